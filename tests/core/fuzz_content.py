"""Hostile content for the fuzz test: text up to the documented limits, deep nesting, odd numbers, JSON, CSV files."""
import json

from hypothesis import strategies as st

from app.broadcasts.validation import MAX_BODY
from app.core.inputs import MAX_ID, MAX_JSON_BYTES, MAX_JSON_DEPTH
from app.system_emails.budget import MAX_SOURCE
from app.tracking.suppression_csv import MAX_IMPORT_BYTES

HUGE = 2**70
LIMIT = max(MAX_BODY, MAX_SOURCE)  # the longest text field anywhere: a body or a template
EDGE_TEXT = ["", "0", "-1", "²", "١٢", str(HUGE), "1e400", "NaN", "null", "[]", "\x00", "a\x00b", " ", "\ud800",
             "2030-01-01T10:00", "0001-01-01T00:00+01:00", "9999-12-31T23:59:59-14:00", "Europe/Amsterdam",
             "{{ x }}", "{{", "{%", "{% endif %}", "<script>alert(1)</script>", "\u202e\u0000\ufeff", "a\u0301" * 50,
             "\r\n\r\nBcc: x@example.com", "=cmd|' /C calc'!A0", "../../etc/passwd", "%00", "x@example.com",
             "ann@example.com", "FREQ=MINUTELY;INTERVAL=1", "DTSTART:00010101T000000Z\nRRULE:FREQ=SECONDLY",
             "<img src=x onerror=alert(1)>", "javascript:alert(1)", "🎉" * 100]
# Units repeated up to the limits: plain, multi-byte, markup, placeholders and entities.
UNITS = ["x", "é", "🎉", "\u200b", "<b>", "<p>x</p>", "{{ customer_name }}", "{{ customer_email }} ",
         '<a href="https://x.example/{{ customer_email }}">x</a>', "&amp;", "<!--", "<![CDATA[", "\\", "'\"",
         "{{ customer_name|upper }}", "{% raw %}", "&#x0;", "\n"]
# Each opens something it never closes, thousands of times: html.parser rescanned to the end from
# every one (CVE-2025-6069 in the Python Herald runs on), 53 s of CPU for "<a" * 99,999.
UNCLOSED = {"start tags": "<a" * 99_999, "after a tag": "<p>" + "a<b" * 60_000, "end tags": "</" * 99_999,
            "instructions": "<?" * 99_999, "comments": "<!--" * 49_999, "quotes": '<a x="' * 33_000,
            "slashes": "<a/" * 66_000, "declarations": "<!x" * 66_000}
UNITS += ["<a", "a<b", "</", "<?", '<a x="', "<a/", "<!x"]
# (opening, middle, closing) of a nest: markup, Jinja blocks and loops.
NESTS = [("<b>", "x", "</b>"), ("<div><table><tr><td>", "x", "</td></tr></table></div>"), ("<ul><li>", "x", ""),
         ("{% if customer_name %}", "x", "{% endif %}"), ("{% for a in customer_name %}", "{{ a }}", "{% endfor %}"),
         ("{% if x %}{% for a in b %}", "x", "{% endfor %}{% endif %}"), ("{{ (", "1", ") }}"), ("[", "", "]")]
SIZES = st.one_of(st.integers(1, 100), st.integers(100, 5_000), st.integers(5_000, LIMIT + 10),
                  st.sampled_from([LIMIT - 1, LIMIT, LIMIT + 1]))


def _repeat(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


def _nest(nest, depth: int) -> str:
    opening, middle, closing = nest
    return opening * depth + middle + closing * depth


SHORT_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
LONG_TEXT = st.builds(_repeat, st.sampled_from(UNITS), SIZES)
NESTED_TEXT = st.builds(_nest, st.sampled_from(NESTS),
                        st.one_of(st.integers(1, 120), st.integers(120, LIMIT // 8), st.sampled_from([95, 99, 100])))
MIXED_TEXT = st.lists(st.one_of(SHORT_TEXT, st.sampled_from(EDGE_TEXT + UNITS)), min_size=2, max_size=12).map("".join)
TEXT = st.one_of(SHORT_TEXT, st.sampled_from(EDGE_TEXT), LONG_TEXT, NESTED_TEXT, MIXED_TEXT)
NUMBER = st.one_of(st.integers(-5, 60), st.integers(-HUGE, HUGE),
                   st.sampled_from([MAX_ID, MAX_ID + 1, 2**63 - 1, 2**63, -2**63 - 1, 10**19, 10**20, -1, 0]))
FLOAT = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -0.0, 5e-324, 1.5]))
ANY_JSON = st.recursive(st.none() | st.booleans() | NUMBER | FLOAT | TEXT,
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SHORT_TEXT, inner, max_size=4),
                        max_leaves=10)
RAW_JSON = ["[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "[" * 3000 + "]" * 3000,
            '{"a": ' * 40 + "1" + "}" * 40, '{"subject": "\\ud800"}', '{"body": "\\u0000"}', '{"kind": 1' + "0" * 400 + "}",
            "[1, 2]", '"text"', "12", "null", "{", '{"kind": NaN}', '{"x": 1e999}', b"\xff\xfe{}",
            '{"customer_ids": [%s]}' % ",".join(["1"] * 20_000), '{"a": [%s]}' % ",".join(["0"] * 100_001),
            '{"body": "%s"}' % ("x" * (MAX_JSON_BYTES + 1)), '{"a": 1, "a": 2}', "\ufeff{}"]
CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                 "application/json; charset=latin-1", "application/xml", "", "application/json-patch+json"]
FIELD_NAMES = ["subject", "body", "body_html", "name", "email", "kind", "status", "customer_ids", "product_ids",
               "send_at", "timezone", "labels", "revision", "rule", "text", "reason", "detail", "amount",
               "currency", "customer", "password", "next", "enabled", "delay", "delay_unit", "value", "q"]


def json_text(value) -> bytes:
    """``value`` as JSON bytes, lone surrogates kept (the server must refuse them, not crash)."""
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


ADDRESS = st.one_of(st.sampled_from(["ann@example.com", "ANN@Example.COM", "bob+tag@example.org", "x@localhost",
                                     "not-an-address", "", "a@" + "b" * 300 + ".com", "=HYPERLINK(\"x\")@a.com",
                                     "\"quoted\"@example.com", "ünï@exämple.de", "a@b@c"]),
                    st.builds("u{}@example.com".format, st.integers(0, 10**6)), SHORT_TEXT)
CSV_ROW = st.lists(st.one_of(ADDRESS, st.sampled_from(["unsubscribed", "bounced", "complained", "manual", "HARD",
                                                       "", "=1+1", "'=1+1"]), SHORT_TEXT), min_size=0, max_size=5)


@st.composite
def csv_files(draw) -> bytes:
    """A CSV file for the importers: a header or none, odd rows, many rows, bad bytes, a 1 MB cell. (A file
    past the 20 MB limit takes over 2 s to encode and parse in the test client alone: not sent.)"""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.sampled_from([b"", b"\xff\xfe\x00bad", b"email\n" + b"\x00" * 100, b'"unclosed\n' * 50,
                                     b"x" * (MAX_IMPORT_BYTES // 20), "\ufeffemail\nann@example.com\n".encode()]))
    header = draw(st.sampled_from(["email,reason,detail", "EMAIL", "reason,email", "", "email,email,reason",
                                   "source,created_at,email"]))
    rows = draw(st.lists(CSV_ROW, max_size=30))
    text = "\n".join([header] + [",".join(_csv_cell(cell) for cell in row) for row in rows])
    if kind == 1:  # many rows: the valid and the invalid alike are listed
        count = draw(st.sampled_from([1_000, 5_000, 20_000]))
        text += "".join(f"\nu{n}@example.com,unsubscribed" if n % 3 else f"\nbad{n},nope" for n in range(count))
    return text.encode("utf-8", "surrogatepass")

# One value of each hostile kind at its threshold or size limit, sent to every free-text field of every
# form and JSON body in the explicit phase, so that no run depends on the random phase drawing them.
BOUNDARY = {
    "nested template blocks (100)": _nest(NESTS[3], 100),
    "nested loops (40)": _nest(NESTS[4], 40),
    "nested template blocks at the limit": _nest(NESTS[3], LIMIT // 33),
    "nested markup (as deep as the sweep goes)": _nest(NESTS[0], LIMIT // 7),
    "placeholders in links at the limit": _repeat(UNITS[8], LIMIT),
    "placeholders in one link at the limit": '<a href="https://x.example/' + _repeat("{{ customer_email }}", LIMIT - 40)
    + '">x</a>',
    "combining marks and emoji at the limit": _repeat("🎉a\u0301", LIMIT),
}

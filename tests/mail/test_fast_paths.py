"""The send loop's fast paths against the slow ways they stand for: signed tokens against
itsdangerous and hmac, quoted-printable values against binascii, whole bodies filled at once
against the piece-by-piece renderer, built messages against Python's e-mail parser, and
dot-stuffing skipped only where no line starts with a dot (RFC 5321 section 4.5.2)."""
import binascii
import hashlib
import hmac
import random
import re
from email import policy
from email.parser import BytesParser

from itsdangerous import URLSafeSerializer

from app.mail.builder import MessageTemplate, Recipient
from app.mail.bodyfill import BodyFormat
from app.mail.mime import DotFree, EncodedBody, fragment
from app.mail.smtp_session import dot_stuffed
from app.mail.tokens import _COMPACT_JSON, TokenSigner, _compact_json

ALPHABET = "abcXYZ09 .=-_/?&<>\"'#%:;\\é€😀\u2028\x00\x1f\t\n\r"


def _text(rng, alphabet=ALPHABET, longest=40):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))


def test_compact_json_is_the_encoder_s_for_any_payload():
    rng = random.Random(1)
    payloads = [[], [None], [True, 1], [1.5, "x"], {"a": 1}, "text", 3, [[1], "x"], [-7, 2**70, "é"]]
    for _ in range(2000):
        payloads.append([rng.choice([_text(rng), rng.randint(-10**12, 10**12), None])
                         for _ in range(rng.randint(0, 4))])
    for payload in payloads:
        assert _compact_json(payload) == _COMPACT_JSON(payload), payload


def test_token_signer_is_hmac_and_itsdangerous_for_any_key_and_digest():
    rng = random.Random(2)
    for secret, digest in (("s" * 10, hashlib.sha1), ("k" * 100, hashlib.sha1), ("k" * 200, hashlib.sha256),
                           ("", hashlib.sha512)):
        for derivation in ("django-concat", "none", "hmac"):
            serializer = URLSafeSerializer(secret, salt="herald.test",
                                           signer_kwargs={"digest_method": digest,
                                                          "key_derivation": derivation})
            signer, key = TokenSigner(serializer), serializer.make_signer().derive_key()
            for _ in range(50):
                payload = [_text(rng), rng.randint(0, 10**9)]
                token = signer.dumps(payload)
                value, signature = token.encode().rsplit(b".", 1)
                expected = hmac.new(key, value, digest).digest()
                assert binascii.a2b_base64(signature.replace(b"-", b"+").replace(b"_", b"/")
                                           + b"=" * (-len(signature) % 4)) == expected
                assert serializer.loads(token) == payload


def _decoded(encoded: bytes) -> bytes:
    return binascii.a2b_qp(encoded)


def test_fragments_of_any_text_decode_back_within_the_limits():
    rng = random.Random(3)
    texts = ["", ".", "=" * 200, "." + "=" * 74, "a" * 75, "a" * 76, "a" * 74 + "=", "a" * 73 + "=b" * 40,
             "x" * 75 + "." + "y" * 80, "x" * 74 + "=." + "y" * 80]
    texts += [_text(rng, "ab.= ", rng.randint(0, 400)) for _ in range(3000)]
    texts += [_text(rng, longest=200) for _ in range(2000)]
    for text in texts:
        encoded = fragment(text)
        assert encoded.endswith(b"=\r\n") and b"\n" not in encoded.replace(b"\r\n", b"")
        lines = encoded.split(b"\r\n")[:-1]
        assert all(len(line) <= 76 and not line.endswith((b" ", b"\t")) for line in lines), text
        assert lines[-1].endswith(b"=") and ("\n" in text or "\r" in text or all(line.endswith(b"=") for line in lines))
        assert not any(line.startswith(b".") for line in lines), text
        assert re.fullmatch(rb"([\x21-\x3c\x3e-\x7e \t]|=[0-9A-F]{2}|=\r\n|\r\n)*", encoded), text
        wanted = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n").encode()
        assert _decoded(encoded) == wanted, text


PIECES = ["Hello ", "{{ name }}", "{{ url }}", "{{ n }}", "{{ missing }}", "\n", "\n.\n", ".", "=", "%",
          "%s", "é", "x" * 90, "<a href=\"{{ url }}\">", " ", "lorem ipsum "]
VALUES = [{"name": "Zoë <b>Quinn</b> & co", "url": "https://zoë.example/ü?a=1&b=2", "n": 7},
          {"name": "A\nB\r\nC .", "url": "." + "y" * 100 + "=" * 30, "n": 0},
          {"name": "", "url": "", "n": None},
          {"name": "plain", "url": "http://x.example/" + "q=1" * 40, "n": "%s%d"}]


def _random_bodies(rng) -> list:
    """A text and an HTML EncodedBody of random pieces."""
    sources = ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 25))) + "\nend" for _ in range(2)]
    return [EncodedBody(sources[0], False), EncodedBody(sources[1], True)]


def _fills_as_rendered(bodies, values, head=b"") -> bool:
    """True when ``BodyFormat.fill`` writes what the bodies' own ``render`` write, joined."""
    parts = [b"head %s\r\n", bodies[0], b"--between--\r\n", bodies[1], b"--end--\r\n"]
    rendered = [part if part.__class__ is bytes else part.render(values) for part in parts]
    return BodyFormat(parts).fill(values, head) == head + b"".join(rendered)


def test_a_body_format_fills_as_the_pieces_render():
    rng = random.Random(4)
    for _ in range(300):
        bodies = _random_bodies(rng)
        assert all(body.formattable for body in bodies)
        assert all(_fills_as_rendered(bodies, values) for values in VALUES)
    assert not EncodedBody("x {{ a | default('b') }} y", False).formattable
    assert not EncodedBody("ends with {{ a }}", False).formattable


def test_plain_values_fill_at_once_as_the_pieces_render():
    # printable ASCII with no "=" nor HTML specials: the fast path of fill, dots at line starts too
    rng = random.Random(8)
    for _ in range(500):
        link = "".join(rng.choice("ab.:/-_") for _ in range(rng.randint(0, 240)))
        values = {"name": rng.choice(["", ".", "Ann .B", "x" * 75, "." + "y" * 80, link]),
                  "url": rng.choice([link, "x" * 74 + "." + "y" * 160]), "n": rng.choice(["", "7", link])}
        assert _fills_as_rendered(_random_bodies(rng), values, rng.choice([b"", b"To: a@example.com\r\n"]))


def test_built_messages_parse_back_and_are_the_pieces_joined(app):
    rng = random.Random(5)
    for round_ in range(60):
        body = "<p>" + "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 25))) + "</p>"
        template = MessageTemplate("Hi {{ name }} %s", body, bulk=True, run_id=3,
                                   headers=[("X-Herald-Broadcast-Run", "3; broadcast=1")])
        values = dict(rng.choice(VALUES))
        person = Recipient(round_, "zoe@example.com", 1, rng.choice(["Zoë", "Ann .", "", "Bo \"B\""]))
        data = template.build(person, values, f"<m{round_}@example.com>", ("https://u.example/1", "mailto:u@x"))
        assert type(data) is DotFree
        assert all(len(line) <= 998 for line in data.split(b"\r\n"))
        assert not any(line.startswith(b".") for line in data.split(b"\r\n"))
        assert template._body is not None
        template._body = None  # the piece-by-piece path
        assert template.build(person, values, f"<m{round_}@example.com>",
                              ("https://u.example/1", "mailto:u@x")) == data
        message = BytesParser(policy=policy.default).parsebytes(data)
        assert not message.defects
        assert message["Subject"] == " ".join(f"Hi {values['name']} %s".split())
        for part, compiled, escape_html in zip(message.iter_parts(), (template.text, template.html),
                                               (False, True)):
            wanted = compiled.render(values, escape_html=escape_html)
            wanted = wanted.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
            assert part.get_payload(decode=True).rstrip(b"\r\n") == wanted.encode().rstrip(b"\r\n")


def test_a_fixed_header_line_starting_with_a_dot_is_left_to_the_transport(app):
    template = MessageTemplate("s", "<p>x</p>", headers=[("X-Odd", "a\r\n.b")])
    data = template.build(Recipient(1, "zoe@example.com"), {}, "<m@example.com>")
    assert type(data) is bytes and b"\r\n.b\r\n" in data
    assert dot_stuffed(data).count(b"\r\n..b\r\n") == 1


def test_dot_stuffing_matches_the_rule_and_skips_only_dot_free_bytes():
    rng = random.Random(6)
    for _ in range(3000):
        data = "".join(rng.choice(["a", ".", "\r\n", "\n", "..", " "]) for _ in range(rng.randint(0, 40))).encode()
        assert dot_stuffed(data) == re.sub(rb"(?m)^\.", b"..", data)
    free = DotFree(b"Subject: x\r\n\r\nno dot starts a line.\r\n")
    assert dot_stuffed(free) is free


def test_a_tracked_address_that_is_one_placeholder_is_its_value_unescaped(app):
    from app.tracking.links import TrackedTemplate

    tracked = TrackedTemplate('<a href="{{ site_url }}">a</a> <a href="{{ site_url }}/x?a=1&amp;b=2">b</a>'
                              ' <a href="{{ n }}">c</a>', 4, False, True)
    assert [whole for _, _, whole in tracked.hrefs] == ["site_url", None, "n"]
    slow = TrackedTemplate.__new__(TrackedTemplate)
    slow.__dict__.update(tracked.__dict__, hrefs=[(name, href, None) for name, href, _ in tracked.hrefs])
    rng = random.Random(7)
    urls = ["https://a.example/?q=1&amp;r=<2>\"'", "&lt;&#x27;&amp;amp;", "", "http://herald.test/u/x"]
    for value in urls + ["https://" + _text(rng) for _ in range(300)]:
        for n in (None, 5, "&amp;"):
            values = {"site_url": value, "n": n}
            assert tracked.values(9, values) == slow.values(9, values), value

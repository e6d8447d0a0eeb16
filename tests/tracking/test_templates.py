"""Tracking done once per run on the HTML template, and the token signer of the send loop."""
import re

from app.mail.placeholders import compile_template
from app.tracking.links import TrackedTemplate, apply_tracking, read_click_token, read_open_token
from app.mail.tokens import TokenSigner, _serializer, make_token, read_token

TEMPLATE = ('<html><body><p>Hi {{ customer_name }} <a href="https://example.com/a?x=1&amp;y=2">A</a> '
            "<a class='btn' href=\"{{ site_url }}/shop?who={{ customer_email }}\">Shop</a> "
            '<a href="mailto:help@example.com">mail</a> <a href="{{ unsubscribe_url }}">Leave</a> '
            '<a data-track href="https://example.com/offer">o</a></p></body></html>')
PEOPLE = [(1, {"customer_name": "Zoë <b>Q</b>", "site_url": "https://zoë.example.net",
               "customer_email": "zoe@example.com", "unsubscribe_url": "http://herald.test/u/tok1"}),
          (2, {"customer_name": "Bo & Co", "site_url": "", "customer_email": "bo@example.com",
               "unsubscribe_url": "http://herald.test/u/tok2"})]


def _per_message(run_id, opens, clicks):
    tracked = TrackedTemplate(TEMPLATE, run_id, opens, clicks)
    compiled = tracked.mask.compile(tracked.html)
    for delivery_id, values in PEOPLE:
        expected = apply_tracking(compile_template(TEMPLATE).render(values, escape_html=True),
                                  delivery_id, run_id, opens, clicks)
        filled = compiled.render({**values, **tracked.values(delivery_id, values)}, escape_html=True)
        yield expected, filled


def test_template_tracking_gives_what_per_message_tracking_gives(app, run):
    for opens in (False, True):
        for clicks in (False, True):
            for expected, filled in _per_message(run.id, opens, clicks):
                assert filled == expected


def test_template_tracking_per_recipient(app, run, per_recipient):
    (first, first_filled), (second, second_filled) = _per_message(run.id, True, True)
    assert (first_filled, second_filled) == (first, second)
    links = re.findall(r'href="http://herald.test/t/c/([^"/]+)/([^"]+)"', first_filled)
    assert {read_open_token(recipient) for _, recipient in links} == {(run.id, 1)}
    personal = [read_click_token(link, recipient) for link, recipient in links]
    assert (run.id, 1, "https://zoë.example.net/shop?who=zoe@example.com") in personal
    assert first_filled.count("/t/c/") == 3 and "data-track" not in first_filled
    assert "http://herald.test/u/tok1" in first_filled  # unsubscribe links are never redirected


def test_personal_link_in_single_quotes(app, run):
    tracked = TrackedTemplate("<a href='{{ site_url }}/a?b=1&amp;c=2'>x</a>", run.id, False, True)
    filled = tracked.mask.compile(tracked.html).render(
        {"site_url": "https://s.example", **tracked.values(5, {"site_url": "https://s.example"})}, True)
    link = re.fullmatch(r'<a href="http://herald.test/t/c/([^"/]+)">x</a>', filled).group(1)
    assert read_click_token(link) == (run.id, None, "https://s.example/a?b=1&c=2")
    untracked = tracked.values(5, {"site_url": ""})["_tracking_href_0"]
    assert untracked == "/a?b=1&c=2"  # not http(s): left as it is, escaped again when filled


def test_token_signer_matches_itsdangerous_and_reads_back(app):
    signer = TokenSigner(_serializer("click"))
    for payload in ([3, None], ["zoë@example.com", 7], [3, "https://example.com/" + "a" * 400]):
        token = signer.dumps(payload)
        assert read_token("click", token) == payload
        assert read_token("open", token) is None  # bound to its purpose
        assert make_token("click", payload) == token
    short = ["customer1@example.com", 2]
    assert signer.dumps(short) == _serializer("click").dumps(short)

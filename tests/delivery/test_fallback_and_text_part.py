"""Real sends to an SMTP sink: the default("…") fallback for customers without a first name, and
the text part's links as ``text <URL>`` with the URL byte for byte (no Markdown escapes)."""
from app.core.extensions import db
from app.core.settings.services import set_option
from app.network.models import Site

from .conftest import add_customers, make_run

FALLBACK = '{{ customer_first_name | default("there") }}'
LINKS = ('<p>Visit <a href="https://shop.example/a_b/[x]?q=1&amp;r=*2*#frag(1)">our [new] shop_now</a>, '
         "your <a href='{{ site_url }}/account?n=" + FALLBACK.replace("there", "friend") + "'>account</a>,\n"
         '<a href="https://docs.example/x_(y)/\\z">https://docs.example/x_(y)/\\z</a> and '
         '<a href="mailto:help@example.com"><img src="https://x.example/i.png" alt=""></a> or '
         '<a href="#top">the top</a>.</p>')


def _parts(captured):
    message = captured.message
    return (message["Subject"], message.get_body(("plain",)).get_content(),
            message.get_body(("html",)).get_content())


def test_customers_without_a_first_name_get_the_fallback_in_every_part(app, smtp_sink, product, jobs):
    people = add_customers([("ann@example.com", "Ann Smith"), ("nobody@example.com", ""),
                            ("space@example.com", " Bo")], product)
    run = make_run(products=[product], subject=f"Hello {FALLBACK}, news",
                   body=f"<p>Dear {FALLBACK} &amp; co,</p><p>{{{{ customer_name }}}}!</p>")
    jobs.start(run)
    received = {captured.rcpt_tos[0]: _parts(captured) for captured in smtp_sink.messages}
    assert set(received) == {person.email for person in people}
    subject, text, html = received["ann@example.com"]
    assert subject == "Hello Ann, news" and "Dear Ann & co," in text and "<p>Dear Ann &amp; co,</p>" in html
    for address in ("nobody@example.com", "space@example.com"):
        subject, text, html = received[address]
        assert subject == "Hello there, news" and "Hello , " not in subject
        assert "Dear there & co," in text and "<p>Dear there &amp; co,</p>" in html
        assert "<title>Hello there, news</title>" in html


def test_text_part_links_read_text_and_url_byte_for_byte(app, smtp_sink, product, jobs):
    set_option("tracking.per_recipient", True)
    [ann, nobody] = add_customers([("ann@example.com", "Ann Smith"), ("nobody@example.com", "")], product)
    db.session.add(Site(customer_id=ann.id, domain="ann.example.net", path="/", title="Ann's"))
    db.session.commit()
    run = make_run(products=[product], subject="Links", body=LINKS, track_clicks=True, track_opens=True)
    jobs.start(run)
    received = {captured.rcpt_tos[0]: captured for captured in smtp_sink.messages}
    _, text, html = _parts(received["ann@example.com"])
    flowing = " ".join(text.split())  # html2text may break a line between a link's text and its URL
    assert "our [new] shop_now <https://shop.example/a_b/[x]?q=1&r=*2*#frag(1)>" in flowing
    assert "your account <https://ann.example.net/account?n=Ann>" in flowing
    assert "<https://docs.example/x_(y)/\\z> and <mailto:help@example.com> or the top." in flowing
    assert "\\[" not in text and "\\(" not in text and "](" not in text
    assert "Unsubscribe <http://herald.test/u/" in flowing  # the layout's footer link, filled
    assert "/t/c/" in html and "/t/c/" not in text  # tracking rewrites the HTML part only
    _, text, _ = _parts(received["nobody@example.com"])
    assert "account </account?n=friend>" in " ".join(text.split())  # no site: the fallback still fills the URL
    raw = received["ann@example.com"].data.decode()
    assert "shop_now <https://shop.example/a_b/[x]?q=3D1&r=3D*2*#frag(1)>" in raw.replace("=\r\n", "")


def test_markdown_looking_text_converts_in_linear_time():
    """Review 14c: '[x](' * 20,000 held a web process or a worker for hours (html2text's link
    pattern on each paragraph it might wrap, cubic on long lines)."""
    import time
    from app.mail.textpart import html_to_text
    for body in ("<p>" + "[x](" * 20_000, "<p>" + "[x]:" * 20_000, "<ul>" + "<li>[x](" * 1_500 + "</ul>"):
        started = time.thread_time()
        html_to_text(body)
        assert time.thread_time() - started < 2.0

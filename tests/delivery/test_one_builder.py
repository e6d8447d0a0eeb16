"""One message builder: a test send and a real send of one broadcast to one customer are the same
bytes but for Message-ID, Date, the per-recipient unsubscribe token and the two test markers (the
``[TEST]`` subject prefix and the X-Herald-Test header in place of X-Herald-Broadcast-Run)."""
import re

from app.broadcasts.mail import send_test
from app.core.extensions import db
from app.network.models import Site

from .conftest import add_customers, make_run

BODY = ('<h2>News</h2><p>Dear {{ customer_name }}, your site <a href="{{ site_url }}">is here</a>.</p>'
        '<p>' + "Een heel lange regel met tekst en een ü. " * 12 + '</p>'
        '<p><a href="{{ unsubscribe_url }}">Stop these</a></p>')


def _normalised(data: bytes, tokens: list) -> bytes:
    text = data.decode("utf-8")
    text = re.sub(r"^(Date|Message-ID): .*\r\n", "", text, flags=re.M)
    # tokens of other lengths move quoted-printable's soft line breaks (RFC 2045 section 6.7 rule 5)
    text = text.replace("=\r\n", "")
    for index, token in enumerate(tokens):
        text = text.replace(token, f"TOKEN{index}")
    return text.encode("utf-8")


def _unsubscribe_token(message) -> str:
    return message["List-Unsubscribe"].split(",")[1].strip().strip("<>").rsplit("/", 1)[1]


def test_test_send_and_real_send_differ_only_in_id_date_token_and_test_markers(app, smtp_sink, product, jobs):
    [bob] = add_customers([("bob@example.com", "Bob Büttner")], product)
    db.session.add(Site(customer_id=bob.id, domain="bob.example.net", path="/", title="Bob's"))
    db.session.commit()
    run = make_run(products=[product], subject="Hi {{ customer_first_name }}", body=BODY,
                   from_name="Team Ünicode", reply_to="help@example.org")
    jobs.start(run)
    assert len(smtp_sink.messages) == 1
    real = smtp_sink.messages[0]

    results = send_test(run.broadcast, ["bob@example.com"], bob)
    assert [result.ok for result in results] == [True]
    test = smtp_sink.messages[1]
    assert real.rcpt_tos == test.rcpt_tos == ["bob@example.com"] and real.mail_from == test.mail_from

    real_message, test_message = real.message, test.message
    assert test_message["Subject"] == "[TEST] " + real_message["Subject"] == "[TEST] Hi Bob"
    assert real_message["X-Herald-Broadcast-Run"] and test_message["X-Herald-Test"]
    assert real_message["Message-ID"] != test_message["Message-ID"]
    tokens = [_unsubscribe_token(real_message), _unsubscribe_token(test_message)]
    assert tokens[0] != tokens[1]

    expected = _normalised(real.data, tokens[:1])
    expected = expected.replace(b"Subject: Hi Bob", b"Subject: [TEST] Hi Bob")
    expected = re.sub(rb"X-Herald-Broadcast-Run: [^\r]*", f"X-Herald-Test: broadcast {run.broadcast_id}".encode(),
                      expected)
    assert _normalised(test.data, tokens[1:]) == expected
    assert b"TOKEN0" in expected and b"bob.example.net" in expected  # the values were filled


def test_a_placeholder_added_by_a_hook_is_filled_in_previews_test_sends_and_real_sends(app, smtp_sink,
                                                                                       product, jobs):
    from app.broadcasts.mail import email_document

    hooks = app.extensions["herald_hooks"]
    hooks.add("broadcast_placeholders", lambda known: {**known, "loyalty_tier": "The tier"})
    hooks.add("broadcast_placeholder_values",
              lambda values, customer: {**values, "loyalty_tier": f"gold-{customer.id}" if customer else "sample"})
    [ann] = add_customers([("ann@example.com", "Ann")], product)
    run = make_run(products=[product], subject="Your tier: {{ loyalty_tier }}",
                   body="<p>Tier {{ loyalty_tier }}</p>")
    jobs.start(run)
    send_test(run.broadcast, ["qa@example.com"], ann)
    subjects = [captured.message["Subject"] for captured in smtp_sink.messages]
    assert subjects == [f"Your tier: gold-{ann.id}", f"[TEST] Your tier: gold-{ann.id}"]
    assert all(f"Tier gold-{ann.id}" in captured.message.get_body(("html",)).get_content()
               for captured in smtp_sink.messages)
    assert f"Tier gold-{ann.id}" in email_document(run.broadcast, ann)

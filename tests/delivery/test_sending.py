"""Sending end to end through a real SMTP sink: exact recipients, headers, MIME structure, text."""
from collections import Counter

from sqlalchemy import select

from app.broadcasts.models import BroadcastRun
from app.delivery.jobs import plan_run
from app.delivery.models import Delivery
from app.mail.message_ids import tagger

from .conftest import add_customers, make_run, suppress


def _rows(db, run_id):
    db.session.expire_all()
    return {d.email: d for d in db.session.scalars(select(Delivery).where(Delivery.run_id == run_id))}


def test_each_deliverable_address_gets_exactly_one_message(app, db, smtp_sink, product, jobs):
    add_customers([(f"user{i:02d}@example.com", f"User {i}") for i in range(45)], product)
    add_customers([("user00@example.com", "Twin")], product)
    suppress("user07@example.com", "unsubscribed")
    run = make_run(products=[product])
    jobs.start(run)

    expected = {f"user{i:02d}@example.com" for i in range(45)} - {"user07@example.com"}
    received = Counter(smtp_sink.recipients())
    assert set(received) == expected and max(received.values()) == 1
    rows = _rows(db, run.id)
    assert {e for e, d in rows.items() if d.status == "sent"} == expected
    assert rows["user07@example.com"].status == "skipped"
    by_address = {m.rcpt_tos[0]: m.message for m in smtp_sink.messages}
    for email in expected:
        assert by_address[email]["Message-ID"] == rows[email].message_id
        assert rows[email].attempts == 1 and rows[email].code == 250 and rows[email].sent_at
    run = db.session.get(BroadcastRun, run.id)
    assert run.status == "sent" and run.finished_at and run.broadcast.status == "sent"


def test_message_headers_mime_structure_and_text_part(app, db, smtp_sink, product, jobs):
    (person,) = add_customers([("zoe@example.com", "Zoë <b>Bold</b> Quinn")], product)
    run = make_run(products=[product], subject="Hello {{ customer_first_name }}: news",
                   body='<p>Dear {{ customer_name }},</p><p><a href="https://example.org/x">Read</a></p>',
                   from_name="Team Ünicode", reply_to="help@example.org")
    jobs.start(run)

    (captured,) = smtp_sink.messages
    message = captured.message
    assert captured.mail_from == "noreply@herald.test" and captured.rcpt_tos == ["zoe@example.com"]
    assert message["Subject"] == "Hello Zoë: news"
    assert message["To"].addresses[0].addr_spec == "zoe@example.com"
    assert message["To"].addresses[0].display_name == "Zoë <b>Bold</b> Quinn"
    assert message["From"].addresses[0].display_name == "Team Ünicode"
    assert message["Reply-To"] == "help@example.org"
    zoe = _rows(db, run.id)['zoe@example.com'].id
    assert message["Date"] and message["Message-ID"] == f"<herald.{run.id}.{zoe}.{tagger().tag(run.id, zoe)}@herald.test>"
    assert message["X-Herald-Broadcast-Run"] == f"{run.id}; broadcast={run.broadcast_id}"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    mailto, https = [part.strip().strip("<>") for part in message["List-Unsubscribe"].split(",")]
    assert mailto.startswith("mailto:unsubscribe@herald.test?subject=unsubscribe%20")
    assert https.startswith("http://herald.test/u/")

    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    html_body, text_body = html.get_content(), text.get_content()
    assert "Zoë &lt;b&gt;Bold&lt;/b&gt; Quinn" in html_body  # values are escaped in HTML
    assert "<b>Bold</b>" not in html_body
    assert 'style="' in html_body and "<style" not in html_body  # CSS inlined
    assert f'href="{https}"' in html_body  # the visible unsubscribe link the body lacked
    assert "Dear Zoë <b>Bold</b> Quinn," in text_body and "<p>" not in text_body
    assert "https://example.org/x" in text_body and https in text_body


def test_body_with_its_own_unsubscribe_link_gets_no_second_one(app, db, smtp_sink, product, jobs):
    add_customers([("one@example.com", "One")], product)
    run = make_run(products=[product], body='<p>Bye? <a href="{{ unsubscribe_url }}">Leave</a></p>')
    jobs.start(run)
    html = smtp_sink.messages[0].message.get_body(("html",)).get_content()
    assert html.count("/u/") == 1 and ">Leave</a>" in html and ">Unsubscribe</a>" not in html


def test_outgoing_message_filter_and_status_action(app, db, smtp_sink, product, jobs):
    changes = []
    hooks = app.extensions["herald_hooks"]

    def add_header(message):
        message.headers.append(("X-Campaign", f"c{message.run_id}"))
        return message
    hooks.add("delivery_message", add_header)
    hooks.add("delivery_run_status_changed", lambda run, previous: changes.append((previous, run.status)))
    add_customers([("hook@example.com", "Hook")], product)
    run = make_run(products=[product])
    jobs.start(run)
    assert smtp_sink.messages[0].message["X-Campaign"] == f"c{run.id}"
    assert changes == [("planning", "sending"), ("sending", "sent")]


def test_site_url_and_suppression_after_planning(app, db, smtp_sink, product, jobs):
    from app.core.jobs import enqueue_now
    from app.network.models import Site

    from .conftest import ident
    first, _, _ = add_customers([("site@example.com", "S"), ("nosite@example.com", "N"),
                                         ("late@example.com", "L")], product)
    db.session.add_all([Site(customer_id=ident(first), title="Blog", domain="blog.example.com"),
                        Site(customer_id=ident(first), title="Shop", domain="shop.example.com")])
    db.session.commit()
    run = make_run(products=[product], body="<p>Your site: {{ site_url }}.</p>")
    run_id = run.id
    enqueue_now(plan_run, run_id, queue="delivery")
    jobs.work(max_jobs=1)  # planned: all three queued
    suppress("late@example.com", "unsubscribed")  # unsubscribes before its chunk is sent
    jobs.work()

    texts = {m.rcpt_tos[0]: m.message.get_body(("plain",)).get_content() for m in smtp_sink.messages}
    assert set(texts) == {"site@example.com", "nosite@example.com"}
    assert "Your site: https://blog.example.com." in texts["site@example.com"]
    assert "Your site: ." in texts["nosite@example.com"]
    late_row = _rows(db, run_id)["late@example.com"]
    assert (late_row.status, late_row.reason, late_row.attempts) == ("skipped", "unsubscribed", 0)

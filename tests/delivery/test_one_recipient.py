"""One recipient never stops a run (issue 14): internationalised addresses are sent as IDNA or with
SMTPUTF8, a message that cannot be built or sent fails its recipient alone with the reason, and
a message whose outcome is unknown is recorded as unknown, never as sent."""
from sqlalchemy import insert, select

from app.broadcasts.models import BroadcastRun
from app.delivery.models import Delivery

from app.network.models import Customer, Membership

from .conftest import add_customers, make_run

ADDRESSES = [("ann@example.com", "Ann"), ("anna@bücher.example", "Anna"),
             ("jörg@bücher.example", "Jörg"), ("zed@example.com", "Zed")]


def _rows(db, run_id):
    db.session.expire_all()
    return {d.email: d for d in db.session.scalars(select(Delivery).where(Delivery.run_id == run_id))}


def test_internationalised_addresses_are_sent_and_never_stop_the_run(app, db, smtp_sink, product, jobs):
    add_customers(ADDRESSES, product)
    run = make_run(products=[product])
    jobs.start(run)

    rows = _rows(db, run.id)
    assert {email: row.status for email, row in rows.items()} == dict.fromkeys(
        ("ann@example.com", "anna@bücher.example", "jörg@bücher.example", "zed@example.com"), "sent")
    by_recipient = {m.rcpt_tos[0]: m for m in smtp_sink.messages}
    assert set(by_recipient) == {"ann@example.com", "anna@xn--bcher-kva.example",
                                 "jörg@xn--bcher-kva.example", "zed@example.com"}
    assert by_recipient["anna@xn--bcher-kva.example"].message["To"] == "Anna <anna@xn--bcher-kva.example>"
    assert by_recipient["anna@xn--bcher-kva.example"].data.isascii()  # no SMTPUTF8 needed
    assert by_recipient["jörg@xn--bcher-kva.example"].message["To"] == "Jörg <jörg@bücher.example>"
    assert db.session.get(BroadcastRun, run.id).status == "sent"


def test_without_smtputf8_only_the_non_ascii_local_part_fails(app, db, smtp_sink, product, jobs):
    smtp_sink.smtputf8 = False
    add_customers(ADDRESSES, product)
    run = make_run(products=[product])
    jobs.start(run)

    rows = _rows(db, run.id)
    failed = rows.pop("jörg@bücher.example")
    assert (failed.status, failed.code) == ("failed", 553)
    assert failed.reply.startswith("553 5.6.7 the SMTP server does not offer SMTPUTF8")
    assert {row.status for row in rows.values()} == {"sent"}
    assert len(smtp_sink.messages) == 3
    run = db.session.get(BroadcastRun, run.id)
    assert (run.status, run.sent, run.failed) == ("sent", 3, 1)


def test_a_message_that_cannot_be_built_fails_its_recipient_alone(app, db, smtp_sink, product, jobs):
    def broken_for_one(message):
        if message.recipient.email == "broken@example.com":
            raise RuntimeError("the plugin choked on this one")
        return message
    app.extensions["herald_hooks"].add("delivery_message", broken_for_one)
    add_customers([("first@example.com", "F"), ("broken@example.com", "B"), ("last@example.com", "L")],
                  product)
    bad = db.session.execute(insert(Customer).values(  # stored before addresses were checked
        email="bad address@example.com", name="Bad").returning(Customer.id)).scalar()
    db.session.execute(insert(Membership).values(customer_id=bad, product_id=product.id, status="active"))
    db.session.commit()
    run = make_run(products=[product])
    jobs.start(run)

    rows = _rows(db, run.id)
    assert rows["first@example.com"].status == rows["last@example.com"].status == "sent"
    broken, bad = rows["broken@example.com"], rows["bad address@example.com"]
    assert broken.status == "failed"
    assert broken.reply.startswith("554 5.6.0 not sent: the message could not be built")
    assert "the plugin choked on this one" in broken.reply
    assert bad.status == "failed" and "is not a valid e-mail address" in bad.reply
    assert sorted(smtp_sink.recipients()) == ["first@example.com", "last@example.com"]
    assert db.session.get(BroadcastRun, run.id).status == "sent"


def test_a_connection_lost_after_a_message_is_unknown_never_sent(app, db, scripted_smtp, product, jobs):
    """The server hangs up after reading the second message's content without answering it."""
    app.config["SMTP_URL"] = scripted_smtp.url
    scripted_smtp.data_end = {2: None}
    add_customers([(f"p{i}@example.com", f"P{i}") for i in range(1, 5)], product)
    run = make_run(products=[product])
    jobs.start(run)

    rows = _rows(db, run.id)
    second = rows.pop("p2@example.com")
    assert second.status == "unknown" and second.code is None and second.reply.startswith("outcome unknown")
    assert {row.status for row in rows.values()} == {"sent"}
    assert [m.rcpt_tos for m in scripted_smtp.received] == [[f"p{i}@example.com"] for i in range(1, 5)]
    run = db.session.get(BroadcastRun, run.id)
    assert (run.status, run.sent, run.failed) == ("sent", 3, 0)


def test_herald_s_own_refusals_of_many_recipients_in_a_row_never_pause_the_run(app, db, smtp_sink, product, jobs):
    """A run of addresses the server cannot take (no SMTPUTF8), longer than the failure streak that
    pauses a run, fails those recipients alone: the streak is the transport's, not theirs."""
    from app.core.settings.services import set_option

    set_option("delivery.pause_after_failures", 3)
    db.session.commit()
    smtp_sink.smtputf8 = False
    add_customers([(f"ü{i:02d}@example.com", "U") for i in range(12)] + [("zz@example.com", "Z")], product)
    run = make_run(products=[product])
    jobs.start(run)

    rows = _rows(db, run.id)
    assert [row.code for email, row in sorted(rows.items()) if email.startswith("ü")] == [553] * 12
    assert rows["zz@example.com"].status == "sent"
    run = db.session.get(BroadcastRun, run.id)
    assert (run.status, run.sent, run.failed) == ("sent", 1, 12), run.status_reason

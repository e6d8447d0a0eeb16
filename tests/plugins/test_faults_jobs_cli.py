"""Faults in the CLI and in workers stay inside the plugin: the payment is saved, the e-mail sent."""
from sqlalchemy import select

from app.billing.models import Payment
from app.core.extensions import db
from app.core.settings.models import Option
from app.system_emails.models import SystemEmailSend
from tests.plugins.helpers import admin_client, cli, network, work


def test_a_payload_filter_that_raises_does_not_lose_the_payment(faulty_app, customer, smtp_sink):
    network(faulty_app, "bad_payload")
    result = cli(faulty_app, "payments", "record", "--customer", "carol@example.com",
                 "--amount", "19.99")
    assert result.exit_code == 0, result.output
    with faulty_app.app_context():
        [payment] = db.session.scalars(select(Payment)).all()
        assert (str(payment.amount), payment.status) == ("19.99", "paid")
        sends = db.session.scalars(select(SystemEmailSend)
                                   .where(SystemEmailSend.event == "payment_received")).all()
        assert {s.recipient for s in sends} == {"carol@example.com", "root@example.com"}
        faults = faulty_app.extensions["herald_plugins"].faults.faults(["bad_payload"])["bad_payload"]
    assert faults[0].where == "system_email_payload" and "KeyError: 'no_such_key'" in faults[0].error
    work(faulty_app)  # the unfiltered payload renders and goes out
    assert any("19.99" in captured.subject for captured in smtp_sink.messages)


def test_a_plugin_that_breaks_the_transaction_does_not_lose_the_payment(faulty_app, customer, smtp_sink):
    """On PostgreSQL a bad statement aborts the whole transaction; the guard's SAVEPOINT keeps
    the payment, and a callback's write before it raised is undone on every database."""
    network(faulty_app, "bad_sql")
    result = cli(faulty_app, "payments", "record", "--customer", "carol@example.com", "--amount", "7")
    assert result.exit_code == 0, result.output
    with faulty_app.app_context():
        [payment] = db.session.scalars(select(Payment)).all()
        assert payment.status == "paid"
        assert db.session.scalars(select(SystemEmailSend.recipient)).all()  # its e-mails queued
        assert db.session.get(Option, "bad_sql.half_done") is None
        faults = faulty_app.extensions["herald_plugins"].faults.faults(["bad_sql"])["bad_sql"]
    assert {f.where for f in faults} == {"system_email_payload", "event_occurred"}
    work(faulty_app)  # in the worker too: the message filter's bad statement costs nothing
    with faulty_app.app_context():
        assert set(db.session.scalars(select(SystemEmailSend.status))) == {"sent"}
    assert smtp_sink.to("carol@example.com")


def test_a_message_filter_that_raises_in_the_worker_still_sends(faulty_app, make_app, customer, smtp_sink):
    network(faulty_app, "bad_message")
    cli(faulty_app, "payments", "record", "--customer", "carol@example.com", "--amount", "5")
    work(faulty_app)
    with faulty_app.app_context():
        statuses = set(db.session.scalars(select(SystemEmailSend.status)))
    assert statuses == {"sent"}
    assert smtp_sink.to("carol@example.com")
    # another process (a web process) sees the worker's faults, on the Plugins page too
    web = make_app(PLUGINS_DIR=faulty_app.config["PLUGINS_DIR"])
    page = admin_client(web).get("/network/plugins/").get_data(as_text=True)
    assert "system_email_message" in page and "AttributeError" in page

"""Delivery of system e-mails: per-send log, retries with backoff, permanent failures, suppression."""
from app.core.extensions import db
from app.network.models import Site
from app.network.services import find_customer, publish_site
from app.system_emails import fire_event
from app.system_emails.services import send_test
from app.mail.suppression import Suppression

from sysemail_helpers import email, sends


def _publish_carols_site(worker, smtp_sink, replies):
    """Deliver Carol's welcome mail first, then publish her site with the sink answering ``replies``."""
    worker.work()
    smtp_sink.cues["carol@example.com"] = list(replies)
    publish_site(db.session.scalar(db.select(Site).join(Site.customer)
                                   .where(Site.title == "Carol's blog")))
    db.session.commit()
    worker.work()


def test_a_temporary_failure_is_retried_then_sent(network, customer, worker, smtp_sink):
    _publish_carols_site(worker, smtp_sink, ["451 4.7.1 Greylisted, try later", "250 OK"])
    [send] = sends("site_published")
    assert (send.status, send.attempts) == ("sent", 2)
    assert send.reply.startswith("250") and send.message_id and send.sent_at
    assert len(smtp_sink.to("carol@example.com")) == 3  # welcome, confirm and the site
    assert (email("site_published").sent_count, email("site_published").failed_count) == (1, 0)


def test_temporary_failures_past_the_limit_fail_without_suppressing(network, customer, worker,
                                                                    smtp_sink, app):
    app.config["SYSTEM_EMAIL_MAX_ATTEMPTS"] = 3
    _publish_carols_site(worker, smtp_sink, ["452 4.2.2 Mailbox full"] * 3)
    [send] = sends("site_published")
    assert (send.status, send.attempts, send.reply) == ("failed", 3, "452 4.2.2 Mailbox full")
    assert email("site_published").failed_count == 1
    assert db.session.get(Suppression, "carol@example.com") is None


def test_a_mailbox_rejection_fails_and_suppresses_the_address_as_a_hard_bounce(network, customer,
                                                                               worker, smtp_sink):
    _publish_carols_site(worker, smtp_sink, ["550 5.1.1 No such user"])
    [send] = sends("site_published")
    assert (send.status, send.attempts, send.reply) == ("failed", 1, "550 5.1.1 No such user")
    suppression = db.session.get(Suppression, "carol@example.com")
    assert (suppression.reason, suppression.source) == ("bounced", "system_email")
    assert (email("site_published").sent_count, email("site_published").failed_count) == (0, 1)

    fire_event("site_published", customer=find_customer("carol@example.com"), site_title="Again",
               site_url="https://x.example")
    db.session.commit()
    worker.work()
    assert sends("site_published")[-1].status == "skipped"


def test_other_permanent_failures_do_not_suppress(network, customer, worker, smtp_sink):
    _publish_carols_site(worker, smtp_sink, ["554 5.7.1 Policy rejection"])
    assert [s.status for s in sends("site_published")] == ["failed"]
    assert db.session.get(Suppression, "carol@example.com") is None


def test_test_sends_are_logged_but_not_counted(network, worker, smtp_sink):
    send_test(email("welcome"), "tester@example.com")
    db.session.commit()
    worker.work()
    [send] = sends("welcome")
    assert (send.role, send.status, send.recipient) == ("test", "sent", "tester@example.com")
    [message] = smtp_sink.to("tester@example.com")
    assert message.message["subject"] == "Welcome to Herald Network, Jane!"  # the sample payload
    assert email("welcome").sent_count == 0


def test_the_customers_own_spelling_goes_on_the_envelope_and_in_to_as_broadcasts_send_it(
        network, worker, smtp_sink):
    from app.network.services import register_customer
    register_customer("Jane.Doe@Example.COM", "Jane Doe")
    db.session.commit()
    worker.work()
    welcome = [s for s in sends("welcome") if s.recipient.lower() == "jane.doe@example.com"]
    assert [(s.recipient, s.status) for s in welcome] == [("Jane.Doe@example.com", "sent")]  # was jane.doe@…
    delivered = [m for m in smtp_sink.messages if "Jane.Doe@example.com" in m.rcpt_tos]
    assert delivered and all(b"\r\nTo: Jane.Doe@example.com\r\n" in m.data for m in delivered)
    smtp_sink.cues["Jane.Doe@example.com"] = ["550 5.1.1 No such user"]
    fire_event("customer_registered", customer=find_customer("jane.doe@example.com"))
    db.session.commit()
    worker.work()
    assert db.session.get(Suppression, "jane.doe@example.com").reason == "bounced"  # keyed in lower case
    fire_event("customer_registered", customer=find_customer("jane.doe@example.com"))
    db.session.commit()
    worker.work()
    assert sends("welcome")[-1].status == "skipped" and "suppressed" in sends("welcome")[-1].reason

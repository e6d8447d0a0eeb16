"""Events: fire_event renders and queues every active e-mail of the event, after the commit."""
from datetime import datetime, timedelta, timezone

from rq.job import Job

from app.core.extensions import db, redis_store
from app.core.hooks import add_action
from app.core.jobs import get_queue
from app.network.models import Site
from app.network.services import publish_site, register_customer
from app.plugins.services import deactivate
from app.system_emails import fire_event
from app.mail.suppression import Suppression
from app.core.utils import utcnow

from sysemail_helpers import email, sends


def test_registering_a_customer_sends_welcome_confirmation_and_admin_notice(network, customer,
                                                                           worker, smtp_sink):
    worker.work()
    assert smtp_sink.subjects() == [
        ("admin@example.com", "New customer: Carol Customer <carol@example.com>"),
        ("carol@example.com", "Please confirm your e-mail address"),
        ("carol@example.com", "Welcome to Herald Network, Carol!"),
    ]
    welcome = next(m.message for m in smtp_sink.to("carol@example.com")
                   if m.message["subject"].startswith("Welcome"))
    assert welcome["Auto-Submitted"] == "auto-generated"
    assert welcome.get_content_type() == "multipart/alternative"
    html = welcome.get_body(("html",)).get_content()
    assert "http://herald.test/login" in html and "style=" in html  # CSS inlined
    assert "Welcome, Carol!" in welcome.get_body(("plain",)).get_content()
    row = email("welcome")
    assert row.sent_count == 1 and row.failed_count == 0 and row.last_sent_at is not None
    assert [s.status for s in sends("welcome")] == ["sent"]


def test_values_are_escaped_in_html_mail_but_not_in_plain_mail(network, worker, smtp_sink):
    register_customer("eve@example.com", "<script>Eve</script>&Co")
    db.session.commit()
    worker.work()
    welcome = next(m.message for m in smtp_sink.to("eve@example.com")
                   if m.message["subject"].startswith("Welcome"))
    html = welcome.get_body(("html",)).get_content()
    assert "<script>" not in html and "Welcome, &lt;script&gt;Eve&lt;/script&gt;&amp;Co!" in html
    notice = smtp_sink.to("admin@example.com")[0].message
    assert "Name:    <script>Eve</script>&Co" in notice.get_content()


def test_nothing_is_queued_when_the_transaction_rolls_back(network, worker, smtp_sink):
    register_customer("ron@example.com", "Ron")
    db.session.rollback()
    assert len(get_queue("emails")) == 0
    worker.work()
    assert smtp_sink.messages == [] and sends() == []


def test_an_inactive_email_is_never_sent(network, worker, smtp_sink):
    email("welcome").active = False
    db.session.commit()
    register_customer("dan@example.com", "Dan")
    db.session.commit()
    worker.work()
    assert [m.message["subject"] for m in smtp_sink.to("dan@example.com")] == [
        "Please confirm your e-mail address"]
    assert sends("welcome") == []


def test_an_email_deactivated_while_queued_is_cancelled(network, worker, smtp_sink):
    register_customer("dan@example.com", "Dan")
    db.session.commit()
    email("welcome").active = False
    db.session.commit()
    worker.work()
    assert [s.status for s in sends("welcome")] == ["cancelled"]
    assert not any(m.message["subject"].startswith("Welcome") for m in smtp_sink.messages)


def test_copy_to_admins_sends_each_admin_a_copy(network, customer, worker, smtp_sink):
    email("site_published").copy_admins = True
    db.session.commit()
    publish_site(db.session.scalar(db.select(Site)))
    db.session.commit()
    worker.work()
    published = sends("site_published")
    assert sorted((s.role, s.recipient) for s in published) == [
        ("copy", "admin@example.com"), ("customer", "carol@example.com")]
    assert {m.message["subject"] for m in smtp_sink.to("admin@example.com")} >= {"Carol's blog is live!"}


def test_an_email_without_recipient_does_not_stop_the_others(network, worker, smtp_sink):
    fire_event("payment_received", amount="5.00", currency="EUR", payment_reference="R1")
    db.session.commit()
    worker.work()
    skipped = sends("payment_received")
    assert [(s.status, s.reason) for s in skipped] == [
        ("skipped", "no recipient: the event gave no customer e-mail address")]
    assert [m.message["subject"] for m in smtp_sink.to("admin@example.com")] == [
        "Payment of 5.00 EUR from"]


def test_bounced_addresses_are_skipped_but_unsubscribed_ones_still_get_system_mail(
        network, worker, smtp_sink):
    db.session.add_all([Suppression(email="bob@example.com", reason="bounced"),
                        Suppression(email="uma@example.com", reason="unsubscribed")])
    db.session.commit()
    register_customer("bob@example.com", "Bob")
    register_customer("uma@example.com", "Uma")
    db.session.commit()
    worker.work()
    assert smtp_sink.to("bob@example.com") == []
    assert len(smtp_sink.to("uma@example.com")) == 2
    bob = [s for s in sends("welcome") if s.recipient == "bob@example.com"]
    assert [(s.status, s.reason) for s in bob] == [("skipped", "suppressed: the address bounced")]


def test_the_delay_is_honoured_through_rq_scheduling(network, worker, smtp_sink):
    row = email("welcome")
    row.delay_value, row.delay_unit = 2, "hours"
    db.session.commit()
    register_customer("dee@example.com", "Dee")
    db.session.commit()
    [send] = sends("welcome")
    assert abs((send.scheduled_for - utcnow()) - timedelta(hours=2)) < timedelta(minutes=1)
    registry = get_queue("emails").scheduled_job_registry
    [job_id] = registry.get_job_ids()
    due = registry.get_scheduled_time(job_id)
    assert abs(due - (datetime.now(timezone.utc) + timedelta(hours=2))) < timedelta(minutes=1)

    worker.work(scheduler=True)  # the scheduler runs, but the welcome is not due yet
    assert [m.message["subject"] for m in smtp_sink.to("dee@example.com")] == [
        "Please confirm your e-mail address"]
    assert sends("welcome")[0].status == "queued"

    job = Job.fetch(job_id, connection=redis_store.client)  # two hours pass
    registry.schedule(job, datetime.now(timezone.utc) - timedelta(seconds=1))
    worker.work(scheduler=True)
    assert "Welcome to Herald Network, Dee!" in [m.subject for m in smtp_sink.to("dee@example.com")]
    assert sends("welcome")[0].status == "sent"


def test_fire_event_is_also_an_action_plugins_can_listen_to(network, customer):
    heard = []
    add_action("system_event_fired", lambda slug, payload: heard.append((slug, payload["customer_email"])))
    fire_event("site_published", customer=customer, site_title="T", site_url="https://t.example")
    assert heard == [("site_published", "carol@example.com")]


def test_events_of_an_inactive_plugin_send_nothing(network, worker, smtp_sink):
    deactivate("core_emails")
    register_customer("ivy@example.com", "Ivy")
    db.session.commit()
    worker.work()
    assert smtp_sink.messages == [] and sends() == []


def test_a_send_is_delivered_once_even_if_its_job_runs_twice(network, customer, worker, smtp_sink):
    from app.system_emails.jobs import deliver_send

    worker.work()
    [send] = sends("welcome")
    assert deliver_send(send.id) == "not claimable"
    assert len([m for m in smtp_sink.to("carol@example.com")
                if m.message["subject"].startswith("Welcome")]) == 1

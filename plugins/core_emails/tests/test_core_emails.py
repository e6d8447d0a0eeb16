"""Core e-mails: the network's own code fires its events and the default e-mails reach their readers."""
import re
from datetime import timedelta

from sqlalchemy import select

from app.billing.models import Payment
from app.core.extensions import db
from app.network.models import Customer, Membership
from app.network.services import expire_due_memberships, find_customer
from app.core.utils import utcnow
from app.system_emails.models import SystemEmail, SystemEmailSend
from app.testing import csrf_token


def sends(slug):
    """Every send of the installed e-mail ``slug``, oldest first, read fresh."""
    db.session.expire_all()
    return db.session.scalars(select(SystemEmailSend).join(SystemEmail).where(SystemEmail.slug == slug)
                              .order_by(SystemEmailSend.id)).all()


def test_the_confirmation_link_confirms_the_address(network, customer, worker, smtp_sink, client):
    worker.work()
    message = next(m.message for m in smtp_sink.to("carol@example.com")
                   if m.message["subject"] == "Please confirm your e-mail address")
    text = message.get_body(("plain",)).get_content()
    path = re.search(r"http://herald\.test(/confirm-email/[\w.-]+)", text)[1]
    page = client.get(path)
    assert page.status_code == 200 and "carol@example.com" in page.get_data(as_text=True)
    assert db.session.scalar(select(Customer.email_confirmed_at)) is not None
    assert client.get(path[:-3] + "abc").status_code == 404


def test_payments_recorded_by_the_admin_fire_paid_failed_and_renewal_events(network, customer, admin_client,
                                                                           worker, smtp_sink):
    worker.work()
    smtp_sink.reset()
    token = csrf_token(admin_client, "/network/payments/")
    for status, kind in (("paid", "payment"), ("failed", "payment"), ("pending", "renewal"),
                         ("pending", "payment")):
        response = admin_client.post("/network/payments/", data={
            "csrf_token": token, "customer": "carol@example.com", "amount": "12.50", "currency": "usd",
            "status": status, "kind": kind, "reference": f"R-{status}-{kind}"})
        assert response.status_code == 302
    worker.work()
    assert smtp_sink.subjects() == [
        ("admin@example.com", "Payment of 12.50 USD from Carol Customer"),
        ("carol@example.com", "Thank you: we received 12.50 USD"),
        ("carol@example.com", "Your membership renewal: 12.50 USD"),
        ("carol@example.com", "Your payment of 12.50 USD did not go through"),
    ]
    assert db.session.scalar(select(db.func.count()).select_from(Payment)) == 4


def test_payment_form_errors_are_shown_next_to_the_field(network, customer, admin_client):
    token = csrf_token(admin_client, "/network/payments/")
    response = admin_client.post("/network/payments/", data={
        "csrf_token": token, "customer": "carol@example.com", "amount": "12.505", "currency": "EUR",
        "status": "paid", "kind": "payment"})
    assert response.status_code == 400
    assert "at most two decimals" in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(Payment)) == 0


def test_payments_through_json_and_cli(network, customer, admin_client, runner, worker, smtp_sink):
    worker.work()
    smtp_sink.reset()
    headers = {"X-CSRFToken": csrf_token(admin_client, "/network/payments/")}
    created = admin_client.post("/network/payments.json", json={
        "customer": "carol@example.com", "amount": "9.99", "status": "paid"}, headers=headers)
    assert created.status_code == 201 and created.get_json()["amount"] == "9.99"
    bad = admin_client.post("/network/payments.json", json={"customer": "nobody", "amount": "1"},
                            headers=headers)
    assert bad.status_code == 400 and bad.get_json()["field"] == "customer"
    carol_id = find_customer("carol@example.com").id
    result = runner.invoke(args=["payments", "record", "--customer", str(carol_id),
                                 "--amount", "5", "--status", "failed"])
    assert result.exit_code == 0 and "5.00 EUR failed" in result.output
    wrong = runner.invoke(args=["payments", "record", "--customer", "carol@example.com", "--amount", "-3"])
    assert wrong.exit_code == 1 and "above 0" in wrong.output
    worker.work()
    assert [s for _, s in smtp_sink.subjects() if "carol" in _] == [
        "Thank you: we received 9.99 EUR", "Your payment of 5.00 EUR did not go through"]


def test_publishing_a_site_through_the_admin_fires_site_published(network, customer, admin_client,
                                                                 worker, smtp_sink):
    from app.network.models import Site

    site = db.session.scalar(select(Site))
    token = csrf_token(admin_client, "/network/sites")
    admin_client.post(f"/network/sites/{site.id}/publish", data={"csrf_token": token})
    worker.work()
    [send] = sends("site_published")
    assert (send.status, send.subject) == ("sent", "Carol's blog is live!")
    assert "http://herald.test/carol" in send.body


def test_memberships_past_their_end_expire_and_fire_membership_expired(network, customer, runner,
                                                                       worker, smtp_sink):
    membership = db.session.scalar(select(Membership))
    membership.expires_at = utcnow() - timedelta(days=1)
    db.session.commit()
    result = runner.invoke(args=["expire-memberships"])
    assert "Expired 1 membership(s)." in result.output
    assert expire_due_memberships() == 0
    worker.work()
    [send] = sends("membership_expired")
    assert (send.recipient, send.subject) == ("carol@example.com", "Your Starter membership has expired")

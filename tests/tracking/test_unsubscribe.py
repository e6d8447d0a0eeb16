"""Unsubscribe: confirmation page, RFC 8058 one-click POST without cookies, resubscribe,
dashboard preferences, system e-mails unaffected, and the next broadcast's audience."""
from sqlalchemy import select

from app.broadcasts.audience import count_audience, unique_recipients
from app.broadcasts.models import Broadcast, BroadcastTarget
from app.tracking.models import TrackingEvent
from app.mail.suppression import Suppression
from app.tracking.services import blocks_mail, suppression_for
from app.mail.tokens import make_token, unsubscribe_url
from app.testing import csrf_token


def _path(email, run_id=None):
    return unsubscribe_url(email, run_id).replace("http://herald.test", "")


def test_get_shows_confirmation_and_changes_nothing(client, db):
    response = client.get(_path("Reader@Example.com"))
    assert response.status_code == 200
    assert b"Reader@Example.com" in response.data and b"<form method=\"post\"" in response.data
    assert suppression_for("reader@example.com") is None


def test_one_click_post_without_cookies_or_csrf(app, db, run):
    fresh = app.test_client(use_cookies=False)
    response = fresh.post(_path("reader@example.com", run.id), data="List-Unsubscribe=One-Click",
                          content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    row = suppression_for("reader@example.com")
    assert (row.reason, row.source) == ("unsubscribed", "one-click")
    event = db.session.scalar(select(TrackingEvent))
    assert (event.kind, event.run_id) == ("unsubscribed", run.id)
    # A second one-click POST (mail clients retry) is harmless: still one event.
    fresh.post(_path("reader@example.com", run.id), data="List-Unsubscribe=One-Click",
               content_type="application/x-www-form-urlencoded")
    assert len(db.session.scalars(select(TrackingEvent)).all()) == 1


def test_confirmation_button_post_unsubscribes(client, db):
    response = client.post(_path("reader@example.com"))
    assert response.status_code == 200 and b"You are unsubscribed" in response.data
    assert suppression_for("reader@example.com").source == "link"


def test_tampered_token_is_404_and_only_this_route_skips_csrf(client, db):
    token = _path("reader@example.com").rsplit("/", 1)[1]
    assert client.post(f"/u/{token[:-3]}xyz", data="List-Unsubscribe=One-Click").status_code == 404
    assert client.get(f"/u/{make_token('click', ['reader@example.com', None])}").status_code == 404
    # The resubscribe form is CSRF-protected like every other form.
    assert client.post(f"/u/{token}/resubscribe").status_code == 400
    assert db.session.scalar(select(Suppression)) is None


def test_resubscribe_from_the_confirmation_page(client, db):
    path = _path("reader@example.com")
    client.post(path)
    response = client.post(f"{path}/resubscribe", data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 200 and b"Welcome back" in response.data
    assert suppression_for("reader@example.com") is None
    kinds = db.session.scalars(select(TrackingEvent.kind).order_by(TrackingEvent.id)).all()
    assert kinds == ["unsubscribed", "resubscribed"]


def test_unsubscribe_never_stops_system_emails(db, client):
    client.post(_path("reader@example.com"))
    assert blocks_mail("reader@example.com") is True
    assert blocks_mail("reader@example.com", system=True) is False


def test_customer_preferences_unsubscribe_and_resubscribe(customer_client, customer, db):
    page = customer_client.get("/dashboard/preferences")
    assert page.status_code == 200 and b"Subscribed" in page.data
    assert b"E-mail preferences" in page.data  # the dashboard menu entry
    token = csrf_token(customer_client, "/dashboard/preferences")
    customer_client.post("/dashboard/preferences", data={"csrf_token": token, "action": "unsubscribe"})
    assert suppression_for(customer.email).source == "dashboard"
    assert b"Resubscribe" in customer_client.get("/dashboard/preferences").data
    customer_client.post("/dashboard/preferences", data={"csrf_token": token, "action": "resubscribe"})
    assert suppression_for(customer.email) is None


def test_customer_cannot_lift_a_bounce_and_post_needs_csrf(customer_client, customer, db):
    from app.tracking.services import record_bounce

    record_bounce(customer.email, "hard", "smtp", "550 5.1.1 unknown")
    db.session.commit()
    assert customer_client.post("/dashboard/preferences", data={"action": "resubscribe"}).status_code == 400
    token = csrf_token(customer_client, "/dashboard/preferences")
    customer_client.post("/dashboard/preferences", data={"csrf_token": token, "action": "resubscribe"})
    assert suppression_for(customer.email).reason == "bounced"


def test_unsubscribed_address_is_excluded_from_the_next_broadcast(client, db, customer, admin):
    from app.network.services import register_customer

    register_customer("second@example.com", "Second")
    db.session.commit()
    broadcast = Broadcast(kind="email", subject="Next", author=admin)
    broadcast.targets = [BroadcastTarget(product_id=customer.memberships.first().product_id)]
    db.session.add(broadcast)
    db.session.commit()
    before = count_audience(broadcast)
    assert (before.addresses, before.deliverable) == (1, 1)
    client.post(_path(customer.email), data="List-Unsubscribe=One-Click",
                content_type="application/x-www-form-urlencoded")
    after = count_audience(broadcast)
    assert after.excluded == {"unsubscribed": 1} and after.deliverable == 0
    recipients = unique_recipients(broadcast).subquery()
    kept = db.session.execute(select(recipients.c.email)
                              .outerjoin(Suppression, Suppression.email == recipients.c.email)
                              .where(Suppression.email.is_(None))).all()
    assert kept == []


def test_the_public_link_never_lifts_a_complaint(client, db):
    from app.tracking.services import record_complaint

    record_complaint("reader@example.com", "webhook", "abuse report")
    db.session.commit()
    path = _path("reader@example.com")
    page = client.post(path)  # unsubscribing changes nothing: the complaint is stronger
    assert page.status_code == 200 and b"resubscribe" not in page.data
    response = client.post(f"{path}/resubscribe", data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 200 and b"cannot be changed here" in response.data
    assert suppression_for("reader@example.com").reason == "complained"
    assert blocks_mail("reader@example.com", system=True) is True

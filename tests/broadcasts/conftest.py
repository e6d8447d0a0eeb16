"""Fixtures of the broadcasts tests: a small network, a wizard driver and a real SMTP sink."""
import re
import socket
from email import policy
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller
from werkzeug.security import generate_password_hash

from app.core.extensions import db
from app.network.models import Customer, Membership, Product, Site
from app.mail.suppression import Suppression
from app.core.utils import utcnow
from flask import g

from app.auth.models import User
from tests.conftest import csrf_token, login

PASSWORD = "password123"
FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")  # scrypt is slow in tests


def make_user(email, name="", super_admin=False):
    """A committed user whose password is PASSWORD (with a cheap hash, to keep the tests fast)."""
    user = User(email=email, name=name, is_super_admin=super_admin, password_hash=FAST_HASH)
    db.session.add(user)
    db.session.commit()
    return user


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CapturingHandler:
    """aiosmtpd handler keeping every message with its envelope."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": parsed})
        return "250 OK queued"


@pytest.fixture
def smtp_sink():
    """A real SMTP server on a free port; ``.messages`` holds what it received."""
    handler = CapturingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.url = f"smtp://127.0.0.1:{controller.port}"
    yield handler
    controller.stop()


@pytest.fixture
def app_config(request):
    """Point SMTP_URL at the sink when the test uses it."""
    if "smtp_sink" in request.fixturenames:
        return {"SMTP_URL": request.getfixturevalue("smtp_sink").url}
    return {}


def login_as(client, user):
    """Log ``user`` in on ``client``, forgetting the user Flask-Login cached in ``g`` (tests share
    one app context, so ``g`` outlives a request)."""
    g.pop("_login_user", None)
    return login(client, user)


class Network:
    """Products and customers for broadcast tests (ids in attributes)."""


def add_customer(email, name, product=None, status="active", with_login=False):
    """A customer (optionally with a login and a membership) committed to the database."""
    user = make_user(email, name=name) if with_login else None
    customer = Customer(email=email, name=name, user=user)
    db.session.add(customer)
    db.session.flush()
    db.session.add(Site(customer=customer, title=f"{name}'s site", domain=f"{customer.id}.sites.test"))
    if product is not None:
        db.session.add(Membership(customer=customer, product=product, status=status))
    db.session.commit()
    return customer


@pytest.fixture
def network(app):
    """Two products, members in several statuses, a shared address and a suppressed one.

    starter (mailing allowed): ann (active, login), bob (trialing), cat (cancelled), dan (expired),
    eve (active, shares ann's address); business (no mailing permission): fay (active, login).
    gus has no membership; hal (active on starter) is unsubscribed.
    """
    net = Network()
    admin = make_user("boss@example.com", super_admin=True, name="Boss Admin")
    starter = Product(slug="starter", name="Starter", mailing_allowed_at=utcnow(), mailing_allowed_by=admin)
    business = Product(slug="business", name="Business")
    db.session.add_all([starter, business])
    db.session.commit()
    net.admin, net.starter, net.business = admin, starter, business
    net.ann = add_customer("ann@example.com", "Ann Active", starter, "active", with_login=True)
    net.bob = add_customer("bob@example.com", "Bob Trial", starter, "trialing")
    net.cat = add_customer("cat@example.com", "Cat Cancelled", starter, "cancelled")
    net.dan = add_customer("dan@example.com", "Dan Expired", starter, "expired")
    net.eve = add_customer("ann@example.com", "Eve Shared", starter, "active")
    net.fay = add_customer("fay@example.com", "Fay Business", business, "active", with_login=True)
    net.gus = add_customer("gus@example.com", "Gus Nobody")
    net.hal = add_customer("hal@example.com", "Hal Unsubscribed", starter, "active")
    db.session.add(Suppression(email="hal@example.com", reason="unsubscribed", source="test"))
    db.session.commit()
    return net


@pytest.fixture
def boss(client, network):
    """A client logged in as the network's super admin."""
    return login_as(client, network.admin)


class WizardDriver:
    """Walks the wizard through the test client like a browser without JavaScript."""

    def __init__(self, client):
        self.client = client
        self.broadcast_id = None

    def token(self, url="/network/broadcasts/new"):
        return csrf_token(self.client, url)

    def start(self, kind):
        response = self.client.post("/network/broadcasts/new",
                                    data={"csrf_token": self.token(), "kind": kind})
        assert response.status_code == 302, response.get_data(as_text=True)
        self.broadcast_id = int(re.search(r"/broadcasts/(\d+)/edit/audience", response.location).group(1))
        return response

    def url(self, step):
        return f"/network/broadcasts/{self.broadcast_id}/edit/{step}"

    def post(self, step, data, nav="next"):
        payload = {"csrf_token": self.token(self.url(step)), **data}
        if nav:
            payload["nav"] = nav
        return self.client.post(self.url(step), data=payload)


@pytest.fixture
def wizard(boss):
    """A WizardDriver for the logged-in super admin."""
    return WizardDriver(boss)

"""Fixtures of the broadcasts tests: a small network and a wizard driver (the rest is app.testing)."""
import re

import pytest

from app.core.extensions import db
from app.mail.suppression import Suppression
from app.testing import csrf_token, login, make_customer, make_product, make_site, make_user


def add_customer(email, name, product=None, status="active", with_login=False):
    """A registered customer with a site (and a membership of ``product``, a login), committed."""
    customer = make_customer(email, name, product, status, login=with_login, commit=False)
    make_site(customer, f"{name}'s site", domain=f"{customer.id}.sites.test")
    return customer


class Network:
    """Products and customers for broadcast tests (ids in attributes)."""


@pytest.fixture
def network(app):
    """Two products, members in several statuses, a shared address and a suppressed one.

    starter (mailing allowed): ann (active, login), bob (trialing), cat (cancelled), dan (expired),
    eve (active, shares ann's address); business (no mailing permission): fay (active, login).
    gus has no membership; hal (active on starter) is unsubscribed.
    """
    net = Network()
    net.admin = make_user("boss@example.com", super_admin=True, name="Boss Admin")
    net.starter = make_product("starter", "Starter", mailing_by=net.admin)
    net.business = make_product("business", "Business")
    net.ann = add_customer("ann@example.com", "Ann Active", net.starter, "active", with_login=True)
    net.bob = add_customer("bob@example.com", "Bob Trial", net.starter, "trialing")
    net.cat = add_customer("cat@example.com", "Cat Cancelled", net.starter, "cancelled")
    net.dan = add_customer("dan@example.com", "Dan Expired", net.starter, "expired")
    net.eve = add_customer("ann@example.com", "Eve Shared", net.starter, "active")
    net.fay = add_customer("fay@example.com", "Fay Business", net.business, "active", with_login=True)
    net.gus = add_customer("gus@example.com", "Gus Nobody")
    net.hal = add_customer("hal@example.com", "Hal Unsubscribed", net.starter, "active")
    db.session.add(Suppression(email="hal@example.com", reason="unsubscribed", source="test"))
    db.session.commit()
    return net


@pytest.fixture
def boss(client, network):
    """A client logged in as the network's super admin."""
    return login(client, network.admin)


class WizardDriver:
    """Walks the wizard through the test client like a browser without JavaScript."""

    def __init__(self, client):
        self.client = client
        self.broadcast_id = None

    def token(self, url="/network/broadcasts/new"):
        """A CSRF token read from ``url``."""
        return csrf_token(self.client, url)

    def start(self, kind):
        """Start a draft of ``kind`` (email or notice); remembers its id."""
        response = self.client.post("/network/broadcasts/new",
                                    data={"csrf_token": self.token(), "kind": kind})
        assert response.status_code == 302, response.get_data(as_text=True)
        self.broadcast_id = int(re.search(r"/broadcasts/(\d+)/edit/audience", response.location).group(1))
        return response

    def url(self, step):
        """The URL of wizard step ``step`` of the current draft."""
        return f"/network/broadcasts/{self.broadcast_id}/edit/{step}"

    def post(self, step, data, nav="next"):
        """Submit ``step`` with ``data`` and the button ``nav`` (next, back, save, send ...)."""
        payload = {"csrf_token": self.token(self.url(step)), **data}
        if nav:
            payload["nav"] = nav
        return self.client.post(self.url(step), data=payload)


@pytest.fixture
def wizard(boss):
    """A WizardDriver for the logged-in super admin."""
    return WizardDriver(boss)

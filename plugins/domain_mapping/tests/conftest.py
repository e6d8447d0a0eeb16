"""Fixtures of the Domain mapping tests: a set-up network and Carol's site."""
import pytest


@pytest.fixture
def network(app, admin, committed):
    """The network after ``flask emails setup`` (Core e-mails active, its e-mails installed)."""
    from app.core.extensions import db
    from app.plugins.network_setup import setup_network

    setup_network()
    db.session.commit()
    return admin


@pytest.fixture
def site(customer):
    """Carol's blog: ``customer``'s site, at http://herald.test/carol."""
    from sqlalchemy import select

    from app.core.extensions import db
    from app.network.models import Site

    return db.session.scalar(select(Site).where(Site.customer_id == customer.id))

"""Fixtures of the Core e-mails tests: the network as `flask emails setup` leaves it."""
import pytest


@pytest.fixture
def network(app, admin, committed):
    """Core e-mails active with its default e-mails installed, and one admin (``admin``)."""
    from app.core.extensions import db
    from app.plugins.network_setup import setup_network

    installed = setup_network()
    db.session.commit()
    assert len(installed) == 9, [email.slug for email in installed]
    return admin

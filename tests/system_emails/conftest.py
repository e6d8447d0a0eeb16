"""Fixtures of the system-email tests: the retry delay off, and a set-up network (Core e-mails)."""
import pytest


@pytest.fixture
def app_config():
    """Retry temporary failures without waiting."""
    return {"SYSTEM_EMAIL_RETRY_SECONDS": 0}


@pytest.fixture
def network(app, admin, committed):
    """A set-up network: Core e-mails active with its default e-mails installed, one admin.

    Plugin activation is committed data (the plugin host reads it on its own connection).
    """
    from app.core.extensions import db
    from app.plugins.network_setup import setup_network

    setup_network()
    db.session.commit()
    return admin

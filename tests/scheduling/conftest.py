"""Scheduling tests reuse the broadcasts fixtures: a small network, a wizard driver, a sink."""
from datetime import datetime

import pytest

from app.broadcasts.models import Broadcast, BroadcastTarget
from app.core.extensions import db
from tests.broadcasts.conftest import app_config, boss, network, smtp_sink, wizard  # noqa: F401


@pytest.fixture
def make_broadcast(network):
    """A ready draft targeting the starter product (kind "notice" or "email")."""
    def factory(kind="notice", subject="Maintenance tonight", timezone="UTC"):
        broadcast = Broadcast(kind=kind, subject=subject, body_html="<p>Hello {{ customer_name }}</p>",
                              timezone=timezone, author=network.admin)
        broadcast.targets.append(BroadcastTarget(product_id=network.starter.id))
        db.session.add(broadcast)
        db.session.commit()
        return broadcast
    return factory


def at(*args) -> datetime:
    """A naive UTC datetime (shorter to read in tests)."""
    return datetime(*args)

"""Scheduling tests reuse the broadcasts' network and wizard; ``make_broadcast`` makes ready drafts."""
from datetime import datetime

import pytest

from app.testing import make_broadcast as new_broadcast
from tests.broadcasts.conftest import boss, network, wizard  # noqa: F401


@pytest.fixture
def make_broadcast(network):
    """A ready draft by the network's admin targeting the starter product (kind "notice" or "email")."""
    def factory(kind="notice", subject="Maintenance tonight", timezone="UTC"):
        return new_broadcast(network.admin, kind, subject, "<p>Hello {{ customer_name }}</p>",
                             products=[network.starter], timezone=timezone)
    return factory


def at(*args) -> datetime:
    """A naive UTC datetime (shorter to read in tests)."""
    return datetime(*args)

"""Fixtures of the tracking tests: a sent broadcast run, rows of its delivery ledger, settings, a Maildir."""
import mailbox
from datetime import datetime
from pathlib import Path

import pytest

from app.core.utils import utcnow
from app.testing import make_broadcast

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DSN_DIR = FIXTURES / "dsn"


@pytest.fixture
def setting(db):
    """``setting(key, value)`` stores a network setting and commits."""
    from app.core.settings.services import set_option

    def store(key, value):
        set_option(key, value)
        db.session.commit()

    return store


@pytest.fixture
def per_recipient(setting):
    """Turn per-recipient tracking on."""
    setting("tracking.per_recipient", True)


@pytest.fixture
def run(db, admin):
    """A sent e-mail broadcast (opens and clicks tracked) with one run of 10 recipients."""
    from app.broadcasts.models import BroadcastRun

    broadcast = make_broadcast(admin, "email", "November news", "<p>Hi</p>", track_opens=True,
                               track_clicks=True, commit=False)
    broadcast.status = "sent"
    item = BroadcastRun(broadcast_id=broadcast.id, occurrence_at=utcnow(), status="sent", total=10)
    db.session.add(item)
    db.session.commit()
    return item


class Ledger:
    """Adds rows to the delivery ledger (``deliveries``) as the delivery engine records sends."""

    def __init__(self, db, table):
        self.db, self.table = db, table

    def add(self, delivery_id, run_id, email, message_id=None, status="sent", sent_at=None):
        """Insert and commit one delivery; other NOT NULL columns get neutral values."""
        values = {"id": delivery_id, "run_id": run_id, "email": email, "status": status,
                  "message_id": message_id, "sent_at": sent_at or utcnow()}
        for column in self.table.c:
            if column.name not in values and not column.nullable and column.server_default is None:
                values[column.name] = {int: 0, str: "", datetime: utcnow()}.get(
                    column.type.python_type, None)
        values = {k: v for k, v in values.items() if k in self.table.c}
        self.db.session.execute(self.table.insert().values(**values))
        self.db.session.commit()
        return delivery_id


@pytest.fixture
def ledger(db):
    """The delivery engine's ledger (``deliveries``), to add sent messages to."""
    from app.delivery.models import Delivery

    return Ledger(db, Delivery.__table__)


@pytest.fixture
def maildir(tmp_path):
    """An empty Maildir; ``maildir.put(name)`` copies a fixture message into new/."""
    path = tmp_path / "bounces"
    box = mailbox.Maildir(str(path), create=True)

    def put(name):
        return box.add((DSN_DIR / name).read_bytes())

    box.put = put
    box.path = path
    return box


@pytest.fixture
def dsn():
    """``dsn(name)``: the bytes of a message in tests/fixtures/dsn."""
    return lambda name: (DSN_DIR / name).read_bytes()

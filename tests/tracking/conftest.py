"""Fixtures of the tracking tests: a broadcast run, delivery-ledger rows, settings, a Maildir.

The delivery ledger (``deliveries``) belongs to the delivery engine. When its migration has not
created the table (this branch on its own), ``ledger`` creates a minimal stand-in for the test
and drops it afterwards; with the real table it inserts real rows.
"""
import mailbox
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, inspect

from app.core.utils import utcnow

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
    """A sent e-mail broadcast with one run."""
    from app.broadcasts.models import Broadcast, BroadcastRun

    broadcast = Broadcast(kind="email", status="sent", subject="November news",
                          body_html="<p>Hi</p>", author=admin, track_opens=True, track_clicks=True)
    db.session.add(broadcast)
    db.session.flush()
    item = BroadcastRun(broadcast_id=broadcast.id, occurrence_at=utcnow(), status="sent", total=10)
    db.session.add(item)
    db.session.commit()
    return item


class Ledger:
    """Adds rows to the delivery ledger (real table or stand-in)."""

    def __init__(self, db, table):
        self.db, self.table = db, table

    def add(self, delivery_id, run_id, email, message_id=None, status="sent", sent_at=None):
        """Insert one delivery; unknown NOT NULL columns of the real table get neutral values."""
        values = {"id": delivery_id, "run_id": run_id, "email": email, "status": status,
                  "message_id": message_id, "sent_at": sent_at or utcnow()}
        for column in self.table.c:
            if column.name not in values and not column.nullable and column.server_default is None:
                values[column.name] = {int: 0, str: "", datetime: utcnow()}.get(
                    column.type.python_type, None)
        values = {k: v for k, v in values.items() if k in self.table.c}
        with self.db.engine.begin() as connection:
            connection.execute(self.table.insert().values(**values))
        return delivery_id


@pytest.fixture
def ledger(db):
    """The ``deliveries`` ledger, created as a minimal stand-in only when it does not exist."""
    created = not inspect(db.engine).has_table("deliveries")
    if created:
        table = Table("deliveries", MetaData(),
                      Column("id", Integer, primary_key=True), Column("run_id", Integer, nullable=False),
                      Column("customer_id", Integer), Column("email", String(254), nullable=False),
                      Column("status", String(16), nullable=False), Column("message_id", String(300)),
                      Column("sent_at", DateTime))
        table.create(db.engine)
    else:
        table = Table("deliveries", MetaData(), autoload_with=db.engine)
    yield Ledger(db, table)
    db.session.rollback()
    with db.engine.begin() as connection:
        connection.execute(table.delete())
    if created:
        table.drop(db.engine)


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

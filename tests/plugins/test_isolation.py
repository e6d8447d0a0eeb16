"""A plugin callback's database work is all or nothing, inside whatever the caller holds."""
import pytest
from sqlalchemy import func, select, text

from app.core.extensions import db
from app.core.settings.models import Option

WRITE = text("INSERT INTO options (key, value, updated_at) VALUES (:key, '1', CURRENT_TIMESTAMP)")


def _writes(key, then_raise=False):
    def callback(*args):
        db.session.execute(WRITE, {"key": key})
        if then_raise:
            raise RuntimeError("gave up after writing")
    return callback


def _count(key):
    return db.session.scalar(select(func.count()).select_from(Option).where(Option.key == key))


@pytest.mark.parametrize("caller_holds", ["nothing", "a read", "a write"])
def test_a_callback_s_write_lives_and_dies_with_the_caller_s_transaction(make_app, caller_holds):
    """Kept writes are committed or rolled back by the caller, never earlier (on SQLite a
    SAVEPOINT taken after a mere read would begin, and its RELEASE commit, a transaction)."""
    app = make_app()
    guard = app.extensions["herald_plugins"].guard
    with app.app_context():
        if caller_holds == "a read":
            db.session.execute(text("SELECT 1"))
        elif caller_holds == "a write":
            db.session.execute(WRITE, {"key": "caller"})
        guard.action("demo", "some_action", _writes("kept"), (), {})
        guard.action("demo", "some_action", _writes("undone", then_raise=True), (), {})
        db.session.rollback()
        assert (_count("kept"), _count("undone"), _count("caller")) == (0, 0, 0)
        if caller_holds == "a write":
            db.session.execute(WRITE, {"key": "caller"})
        guard.action("demo", "some_action", _writes("kept"), (), {})
        guard.action("demo", "some_action", _writes("undone", then_raise=True), (), {})
        db.session.commit()
        assert (_count("kept"), _count("undone")) == (1, 0)
        assert _count("caller") == (caller_holds == "a write")

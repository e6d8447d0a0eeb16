"""A plugin callback's database work, all or nothing: a SAVEPOINT around it inside the caller's transaction."""
from flask import has_app_context
from sqlalchemy.exc import SQLAlchemyError

from ..core.extensions import db
from ..core.hooks.guard import IsolationError, NoScope


class StatementScope:
    """The database statements of one plugin callback, kept if it returns, undone if it raises.

    * The caller has a transaction (or unflushed changes): its changes are flushed, then a
      SAVEPOINT is taken (``Session.begin_nested``); a raising callback is rolled back to it,
      so the caller's work survives even an SQL error, which on PostgreSQL would otherwise
      abort the whole transaction ("current transaction is aborted", SQLSTATE 25P02).
    * The caller has none (or, on SQLite, has only read): nothing of the caller's can be lost, so no SAVEPOINT is spent (the
      hot paths of a send run here); if the callback raises, the transaction it opened is rolled
      back and the session is usable again.

    Creating the scope raises ``IsolationError`` when flushing the caller's own changes fails.
    """

    def __init__(self):
        session = db.session()  # the scoped registry's current Session
        self.nested = None
        self.opened_by_plugin = not _caller_has_work(session)
        if self.opened_by_plugin:
            return
        try:
            self.nested = session.begin_nested()
        except SQLAlchemyError as error:
            raise IsolationError(f"the caller's changes could not be flushed: {error}") from error

    def keep(self) -> None:
        """Release the SAVEPOINT; raises the database's error when the callback broke it."""
        if self.nested is not None and self.nested.is_active:
            self.nested.commit()

    def undo(self) -> None:
        """Roll the callback's statements back, leaving the caller's as they were."""
        session = db.session()
        if self.nested is not None:
            if self.nested.is_active:
                self.nested.rollback()
        elif self.opened_by_plugin and session.in_transaction():
            session.rollback()


def _caller_has_work(session) -> bool:
    """True when the caller has changes or an open database transaction to protect.

    sqlite3 begins a transaction only before a write: a SAVEPOINT taken while the caller has only
    read would begin one itself, and its RELEASE would commit the callback's writes at once."""
    if session.new or session.dirty or session.deleted:
        return True
    if not session.in_transaction():
        return False
    driver = session.connection().connection.driver_connection
    return getattr(driver, "in_transaction", True)  # sqlite3 knows; others always hold one


def statement_scope():
    """The guard's ``isolate``: a ``StatementScope`` inside an app context, else no scope."""
    return StatementScope() if has_app_context() else NoScope()

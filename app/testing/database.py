"""The test database: migrated once per run, then a rolled-back transaction or emptied tables per test."""
import threading
from contextlib import contextmanager

from sqlalchemy import text

OTHER_THREAD = ("This test used the database from another thread while its data lives in a transaction "
                "that is rolled back at the end. Mark the test @pytest.mark.committed (or use a fixture "
                "that needs committed data, such as worker or live_server) so it commits for real.")


class _Binding:
    """The connection (and its thread) that every session joins during a rolled-back test."""
    connection = None
    thread = None


_binding = _Binding()


# Tables whose triggers refuse UPDATE, DELETE and TRUNCATE (migrations 0012 and 0018): the test
# kit, as the database's owner, sets their triggers aside to empty them (``_empty_append_only``).
APPEND_ONLY_TABLES = ("audit_entries",)
# Tables the counter triggers keep (migrations 0009, 0016): emptied after the tables they count,
# whose deletes would otherwise leave negative counts behind.
KEPT_BY_TRIGGERS = ("addresses", "shared_addresses", "suppressed_customers", "membership_counts")


def in_rolled_back_test() -> bool:
    """True while a test runs inside the transaction ``rolled_back`` rolls back."""
    return _binding.connection is not None


def migrate(app, db, fresh: bool) -> None:
    """Run ``flask db upgrade`` (every head: the core and each plugin's branch) on ``app``'s database.

    ``fresh`` first drops PostgreSQL's public schema, so every run starts from the migrations.
    """
    from flask_migrate import upgrade

    with app.app_context():
        if fresh and db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(revision="heads")
        db.session.remove()
        db.engine.dispose()


def empty_tables(db) -> None:
    """Delete every row of every table the models know; PostgreSQL's sequences restart at 1.

    DELETE rather than TRUNCATE: on the few rows a test leaves it takes ~30 ms on PostgreSQL where
    TRUNCATE of every table takes ~500 ms. Triggers run as usual; the tables they keep are
    emptied last (``KEPT_BY_TRIGGERS``).
    """
    postgresql = db.engine.dialect.name == "postgresql"
    tables = sorted(reversed(db.metadata.sorted_tables), key=lambda table: table.name in KEPT_BY_TRIGGERS)
    with db.engine.begin() as connection:
        for table in tables:
            if table.name in APPEND_ONLY_TABLES:
                _empty_append_only(connection, table)
            else:
                connection.execute(table.delete())
        if postgresql:
            connection.execute(text("SELECT setval(c.oid, 1, false) FROM pg_class c "
                                    "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"))


def _empty_append_only(connection, table) -> None:
    """Delete an append-only table's rows with its triggers set aside for the statement: disabled
    on PostgreSQL, dropped and re-created from their stored SQL on SQLite (same transaction)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f'ALTER TABLE "{table.name}" DISABLE TRIGGER USER'))
        connection.execute(table.delete())
        connection.execute(text(f'ALTER TABLE "{table.name}" ENABLE TRIGGER USER'))
        return
    triggers = connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                       "AND tbl_name = :table"), {"table": table.name}).all()
    for name, _ in triggers:
        connection.execute(text(f'DROP TRIGGER "{name}"'))
    connection.execute(table.delete())
    for _, sql in triggers:
        connection.execute(text(sql))


def join_test_transaction(db) -> None:
    """Let ``db.session`` join the test's connection while one is bound (once per process).

    Flask-SQLAlchemy's Session picks the app's engine and ignores a ``bind`` given to it, so the
    session class gets a ``get_bind`` that returns the bound connection first; sessions then open
    a SAVEPOINT on it (``join_transaction_mode="create_savepoint"``), and their commits release it.
    Sessions of every app context of the test's thread join: CLI commands, jobs run in-process.
    """
    factory = db.session.session_factory
    if getattr(factory.class_, "joins_test_transaction", False):
        return

    class TestSession(factory.class_):
        joins_test_transaction = True

        def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
            connection = _binding.connection
            if bind is None and connection is not None:
                if threading.get_ident() != _binding.thread:
                    raise RuntimeError(OTHER_THREAD)
                return connection
            return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)

    factory.class_ = TestSession
    factory.configure(join_transaction_mode="create_savepoint")


@contextmanager
def rolled_back(db):
    """Run the block inside one transaction on one connection, rolled back at the end.

    Data is seen only by this thread's sessions: use ``committed`` for workers, threads, live
    servers and other processes. On SQLite the driver's own transaction handling is switched off
    for this connection (it would start the transaction late and let a RELEASE commit it).
    """
    connection = db.engine.connect()
    transaction = connection.begin()
    driver = connection.connection.driver_connection
    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        isolation_level, driver.isolation_level = driver.isolation_level, None
        connection.exec_driver_sql("BEGIN")
    db.session.remove()
    _binding.connection, _binding.thread = connection, threading.get_ident()
    try:
        yield connection
    finally:
        try:
            db.session.remove()
        finally:
            _binding.connection = _binding.thread = None
            transaction.rollback()
            if sqlite:
                driver.isolation_level = isolation_level
            connection.close()


@contextmanager
def committed(db):
    """Run the block with real commits, then empty every table (the next test starts empty)."""
    db.session.remove()
    try:
        yield
    finally:
        db.session.remove()
        empty_tables(db)

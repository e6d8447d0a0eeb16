"""Alembic environment: one for the core and every plugin branch (plugins/<slug>/migrations)."""
import logging

from alembic import context
from flask import current_app
from sqlalchemy import event, inspect, text

config = context.config
logging.getLogger("alembic").setLevel(logging.WARNING)
target_db = current_app.extensions["migrate"].db
log = logging.getLogger("app.plugins.schema")


def _options():
    return {
        "target_metadata": target_db.metadata,
        "render_as_batch": True,  # SQLite needs batch mode to alter tables
        "compare_type": True,
    }


def run_migrations_offline():
    """Emit SQL to stdout (``flask db upgrade --sql``)."""
    context.configure(url=target_db.engine.url.render_as_string(hide_password=False),
                      literal_binds=True, **_options())
    with context.begin_transaction():
        context.run_migrations()


def _transactional_sqlite(connection):
    """Make SQLite's DDL transactional on this connection (pysqlite commits before DDL by
    default): a failed migration then leaves no half-created table. Returns the undo."""
    driver = connection.connection.driver_connection
    previous = driver.isolation_level
    driver.isolation_level = None  # the driver stops managing transactions ...

    def begin(conn):
        conn.exec_driver_sql("BEGIN")  # ... and every transaction starts with a real BEGIN

    event.listen(connection, "begin", begin)

    def undo():
        event.remove(connection, "begin", begin)
        driver.isolation_level = previous
    return undo


def _orphans(connection):
    """Revisions in alembic_version that no migration folder ships (a plugin folder deleted
    without uninstalling it): Alembic cannot plan around them, so they are set aside."""
    if not inspect(connection).has_table("alembic_version"):
        return []
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    orphans = []
    for revision in rows:
        try:
            context.script.get_revision(revision)
        except Exception:
            orphans.append(revision)
    return orphans


def run_migrations_online():
    """Run migrations against the app's database, all in one transaction (SQLite included).

    Orphaned revisions are taken out of alembic_version for the run and put back after it, so
    the rest of the network still migrates; ``flask db upgrade`` reports them."""
    with target_db.engine.connect() as connection:
        undo = _transactional_sqlite(connection) if connection.dialect.name == "sqlite" else None
        try:
            with connection.begin():
                orphans = _orphans(connection)
                for revision in orphans:
                    log.warning("alembic_version holds %s, which no migration folder ships", revision)
                    connection.execute(text("DELETE FROM alembic_version WHERE version_num = :r"),
                                       {"r": revision})
                context.configure(connection=connection, **_options())
                context.run_migrations()
                for revision in orphans:
                    connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:r)"),
                                       {"r": revision})
        finally:
            if undo is not None:
                undo()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

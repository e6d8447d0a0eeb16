"""Alembic environment: one for the core and every plugin branch (plugins/<slug>/migrations)."""
import logging

from alembic import context
from flask import current_app

config = context.config
logging.getLogger("alembic").setLevel(logging.WARNING)
target_db = current_app.extensions["migrate"].db


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


def run_migrations_online():
    """Run migrations against the app's database."""
    with target_db.engine.connect() as connection:
        context.configure(connection=connection, **_options())
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

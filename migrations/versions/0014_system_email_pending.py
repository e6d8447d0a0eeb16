"""The supervisor finds system-e-mail sends not settled yet through a small partial index.

Every few seconds the supervisor looks for sends left in ``sending`` by a dead worker and for due
sends whose job is gone (``app/system_emails/healing.py``); the index holds only queued,
deferred and sending rows, so the scan does not read the whole send log.

Revision ID: 0014_system_email_pending
Revises: 0016_flat_counters
"""
import sqlalchemy as sa
from alembic import op

revision = "0014_system_email_pending"
down_revision = "0016_flat_counters"
branch_labels = None
depends_on = None

PENDING = "status IN ('queued', 'deferred', 'sending')"


def upgrade():
    op.create_index("ix_system_email_sends_pending", "system_email_sends", ["status", "scheduled_for"],
                    postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING))


def downgrade():
    op.drop_index("ix_system_email_sends_pending", table_name="system_email_sends")

"""Suspensions of plugins (recovery mode, a failed migration) are stored with the plugin's state.

They lived only in Redis, so a Redis restart or flush (make run's Redis keeps nothing) let a
suspended plugin run again, over a failed migration's schema. The database is now the source of
truth and Redis the cache rebuilt from it (app/plugins/suspensions.py).

Revision ID: 0019_plugin_suspensions
Revises: 0018_audit_append_only
"""
import sqlalchemy as sa
from alembic import op

revision = "0019_plugin_suspensions"
down_revision = "0018_audit_append_only"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("plugin_states") as batch_op:
        batch_op.add_column(sa.Column("suspended_kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("suspended_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("suspended_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("plugin_states") as batch_op:
        batch_op.drop_column("suspended_at")
        batch_op.drop_column("suspended_reason")
        batch_op.drop_column("suspended_kind")

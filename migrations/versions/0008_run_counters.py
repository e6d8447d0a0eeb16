"""Sent and failed counters on broadcast runs, kept by the delivery engine with each batch.

Revision ID: 0008_run_counters
Revises: 0004_delivery
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_run_counters"
down_revision = "0004_delivery"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("broadcast_runs") as batch_op:
        batch_op.add_column(sa.Column("sent", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("failed", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE broadcast_runs SET sent = (SELECT COUNT(*) FROM deliveries d WHERE "
               "d.run_id = broadcast_runs.id AND d.status = 'sent'), failed = (SELECT COUNT(*) "
               "FROM deliveries d WHERE d.run_id = broadcast_runs.id AND d.status = 'failed')")


def downgrade():
    with op.batch_alter_table("broadcast_runs") as batch_op:
        batch_op.drop_column("failed")
        batch_op.drop_column("sent")

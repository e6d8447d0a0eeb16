"""Monthly schedules say what happens in months without their day: skip them or use the last day.

A schedule "monthly on day 31" skipped February, April, June, September and November without a
word (RFC 5545 ignores invalid dates). ``short_months`` is "skip" (that behaviour, the default
for existing rows) or "last_day" (send on the last day of such months).

Revision ID: 0011_schedule_short_months
Revises: 0010_ledger_run_fk
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_schedule_short_months"
down_revision = "0010_ledger_run_fk"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("schedules") as batch_op:
        batch_op.add_column(sa.Column("short_months", sa.String(length=8), nullable=False,
                                      server_default="skip"))


def downgrade():
    with op.batch_alter_table("schedules") as batch_op:
        batch_op.drop_column("short_months")

"""The delivery ledger's run_id loses its foreign key: planning writes a million rows at once.

PostgreSQL checked the key once per inserted row (an RI trigger): 4 s of a 1,000,000-row
planning on the benchmark machine, a third of the statement. Herald never deletes a run (only
drafts that never ran are deleted), and planning writes rows for the run it has just claimed
in the same transaction, so the check guarded nothing the code can reach.

Revision ID: 0010_ledger_run_fk
Revises: 0009_addresses
"""
from alembic import op

revision = "0010_ledger_run_fk"
down_revision = "0009_addresses"
branch_labels = None
depends_on = None

FK_NAME = "fk_deliveries_run_id_broadcast_runs"


def upgrade():
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_constraint(FK_NAME, type_="foreignkey")


def downgrade():
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.create_foreign_key(FK_NAME, "broadcast_runs", ["run_id"], ["id"], ondelete="CASCADE")

"""The ledger keeps the winning customer's own spelling of an address next to its lower-cased key.

Planning wrote each address lower-cased (``deliveries.email``: the key that makes a run's rows
unique, matches the suppression list and serves the log's search), and the message went to that:
``Bob.Smith@Example.com`` received mail addressed to ``bob.smith@example.com``. ``spelling`` holds
the address as the customer with the lowest id wrote it, NULL when it is the key itself (most
rows: nothing more to write per row); the send loop sends to ``coalesce(spelling, email)``.
Existing rows keep NULL: runs planned before this sent to the key.

Revision ID: 0013_delivery_spelling
Revises: 0012_security
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_delivery_spelling"
down_revision = "0012_security"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.add_column(sa.Column("spelling", sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_column("spelling")

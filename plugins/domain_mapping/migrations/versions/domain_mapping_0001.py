"""Domain mapping: the domain_mapping_mappings table (the plugin's own Alembic branch).

Revision ID: domain_mapping_0001
Revises:
Create Date: 2026-11-24 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "domain_mapping_0001"
down_revision = None
branch_labels = ("domain_mapping",)
depends_on = "0001_core"


def upgrade():
    op.create_table(
        "domain_mapping_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_domain_mapping_mappings_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_mapping_mappings")),
        sa.UniqueConstraint("domain", name=op.f("uq_domain_mapping_mappings_domain")),
    )
    with op.batch_alter_table("domain_mapping_mappings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_domain_mapping_mappings_site_id"), ["site_id"], unique=False)


def downgrade():
    with op.batch_alter_table("domain_mapping_mappings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_domain_mapping_mappings_site_id"))
    op.drop_table("domain_mapping_mappings")

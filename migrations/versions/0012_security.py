"""Security: each user's session token, and the append-only audit log.

``users.session_token`` is part of every session and remember-me cookie (Flask-Login's
alternative id): rotating it (logout, password or role change, "log out other sessions") ends
every session of the user. Existing users get a random token each.

``audit_entries`` records who changed what. Herald only ever inserts into it; on PostgreSQL a
trigger refuses UPDATE and DELETE, so not even a stray statement can rewrite history.

Revision ID: 0012_security
Revises: 0011_schedule_short_months
"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0012_security"
down_revision = "0011_schedule_short_months"
branch_labels = None
depends_on = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION herald_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP;
END $$
"""
APPEND_ONLY_TRIGGER = ("CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
                       "FOR EACH ROW EXECUTE FUNCTION herald_audit_append_only()")


def upgrade():
    op.add_column("users", sa.Column("session_token", sa.String(64), nullable=True))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("session_token", sa.String))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)).all():
        connection.execute(users.update().where(users.c.id == user_id)
                           .values(session_token=secrets.token_urlsafe(32)))
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("session_token", existing_type=sa.String(64), nullable=False)

    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("actor_kind", sa.String(10), nullable=False),
        sa.Column("actor_id", sa.Integer, nullable=True),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("object_type", sa.String(40), nullable=False),
        sa.Column("object_id", sa.String(64), nullable=True),
        sa.Column("object_label", sa.String(200), nullable=False, server_default=""),
        sa.Column("summary", sa.String(1000), nullable=False, server_default=""),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    op.create_index("ix_audit_entries_created_at", "audit_entries", ["created_at"])
    op.create_index("ix_audit_entries_object", "audit_entries", ["object_type", "object_id"])
    op.create_index("ix_audit_entries_actor_id", "audit_entries", ["actor_id"])
    op.create_index("ix_audit_entries_action", "audit_entries", ["action"])
    if connection.dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries")
        op.execute("DROP FUNCTION IF EXISTS herald_audit_append_only()")
    op.drop_table("audit_entries")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("session_token")

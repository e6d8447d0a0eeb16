"""The audit log is append-only on both databases, against any SQL the app can send.

0012 refused row UPDATE and DELETE on PostgreSQL only: ``TRUNCATE audit_entries`` still
emptied it, and on SQLite only an ORM listener guarded the table, so a bulk ``delete()`` or
``update()`` passed. This adds a BEFORE TRUNCATE statement trigger on PostgreSQL (same function
as 0012) and BEFORE UPDATE / BEFORE DELETE triggers on SQLite that abort the statement.

The database owner can still drop or disable these triggers (or the table): they stop the
application and stray statements, not whoever owns the database.

Revision ID: 0018_audit_append_only
Revises: 0017_system_email_pending
"""
from alembic import op

revision = "0018_audit_append_only"
down_revision = "0017_system_email_pending"
branch_labels = None
depends_on = None

TRUNCATE_TRIGGER = ("CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
                    "FOR EACH STATEMENT EXECUTE FUNCTION herald_audit_append_only()")
SQLITE_TRIGGER = """
CREATE TRIGGER audit_entries_no_{verb} BEFORE {verb} ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: {verb} refused'); END
"""
# SQLite's INSERT OR REPLACE deletes the old row without firing DELETE triggers: refuse an id
# that is taken before the conflict is resolved.
SQLITE_NO_REPLACE = """
CREATE TRIGGER audit_entries_no_replace BEFORE INSERT ON audit_entries
WHEN EXISTS (SELECT 1 FROM audit_entries WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: REPLACE refused'); END
"""


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(TRUNCATE_TRIGGER)
    elif dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(SQLITE_TRIGGER.format(verb=verb))
        op.execute(SQLITE_NO_REPLACE)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries")
    elif dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_entries_no_{verb}")
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_replace")

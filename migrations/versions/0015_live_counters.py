"""Live counters of each run's ledger, kept by triggers in the transaction that writes the rows.

``delivery_counts`` holds, per run, ``status:<status>`` (rows in each status),
``reason:<reason>`` (skipped rows by reason: the suppressions at planning or later, and
``cancelled``) and ``sent_hour:<YYYY-MM-DDTHH>`` (rows whose ``sent_at`` falls in that UTC hour).
The run page and ``flask delivery status`` read these few rows instead of counting the ledger.
Triggers (statement-level with transition tables on PostgreSQL, row-level on SQLite, as for
``addresses`` in 0009) add each statement's net change with one upsert in key order, so every
write is counted whatever code makes it, concurrent writers serialise on the counter rows without
deadlock, and nothing reads a counter to write it back. Rows are never deleted from the ledger;
deleting them leaves the counters as they were.

Revision ID: 0015_live_counters
Revises: 0013_delivery_spelling
"""
import sqlalchemy as sa
from alembic import op

revision = "0015_live_counters"
down_revision = "0013_delivery_spelling"
branch_labels = None
depends_on = None


def _keys(row: str, hour: str) -> list:
    """The counter names a ledger row (``row``: a table alias or NEW/OLD) counts towards (SQL
    expressions, NULL for none)."""
    return [f"'status:' || {row}.status",
            f"CASE WHEN {row}.status = 'skipped' THEN 'reason:' || coalesce({row}.reason, '') END",
            f"CASE WHEN {row}.sent_at IS NOT NULL THEN 'sent_hour:' || {hour} END"]


PG_HOUR = "to_char(r.sent_at, 'YYYY-MM-DD\"T\"HH24')"
SQLITE_HOUR = "strftime('%Y-%m-%dT%H', {row}.sent_at)"


def _pg_rows(table: str, step: int) -> str:
    return (f"SELECT r.run_id, k.name, {step} AS n FROM {table} r "
            f"CROSS JOIN LATERAL (VALUES ({'), ('.join(_keys('r', PG_HOUR))})) AS k(name) "
            "WHERE k.name IS NOT NULL")


def _apply(delta: str) -> str:
    """Add each counter's net change in key order (the upsert's row locks then come in one order
    for every writer: no deadlock); a counter that nets zero is not touched."""
    return (f"INSERT INTO delivery_counts (run_id, name, value) SELECT run_id, name, sum(n) FROM ({delta}) d "
            "GROUP BY run_id, name HAVING sum(n) <> 0 ORDER BY run_id, name "
            "ON CONFLICT (run_id, name) DO UPDATE SET value = delivery_counts.value + excluded.value;")


POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION herald_count_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN {_apply(_pg_rows('new_rows', 1))}
  ELSE {_apply(_pg_rows('new_rows', 1) + " UNION ALL " + _pg_rows('old_rows', -1))}
  END IF;
  RETURN NULL;
END $$
"""
POSTGRESQL_TRIGGERS = {
    "insert": "AFTER INSERT ON deliveries REFERENCING NEW TABLE AS new_rows",
    "update": "AFTER UPDATE ON deliveries REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
}


def _sqlite_change(row: str, step: int) -> str:
    names = _keys(row, SQLITE_HOUR.format(row=row))
    selects = " UNION ALL ".join(f"SELECT {row}.run_id AS run_id, {name} AS name" for name in names)
    return (f"INSERT INTO delivery_counts (run_id, name, value) SELECT run_id, name, {step} "
            f"FROM ({selects}) WHERE name IS NOT NULL "
            f"ON CONFLICT (run_id, name) DO UPDATE SET value = value + {step};")


SQLITE_TRIGGERS = {
    "insert": f"AFTER INSERT ON deliveries BEGIN {_sqlite_change('NEW', 1)} END",
    "update": ("AFTER UPDATE OF status, reason, sent_at ON deliveries "
               "WHEN OLD.status IS NOT NEW.status OR OLD.reason IS NOT NEW.reason "
               "OR OLD.sent_at IS NOT NEW.sent_at OR OLD.run_id IS NOT NEW.run_id "
               f"BEGIN {_sqlite_change('OLD', -1)} {_sqlite_change('NEW', 1)} END"),
}
def _backfill(hour: str) -> str:
    """Count the rows already in the ledger (one GROUP BY; the same keys as the triggers)."""
    selects = " UNION ALL ".join(f"SELECT r.run_id, {name} AS name FROM deliveries r"
                                 for name in _keys("r", hour))
    return (f"INSERT INTO delivery_counts (run_id, name, value) SELECT run_id, name, count(*) "
            f"FROM ({selects}) d WHERE name IS NOT NULL GROUP BY run_id, name")


def upgrade():
    op.create_table(
        "delivery_counts",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "name", name=op.f("pk_delivery_counts")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute(_backfill(PG_HOUR if postgresql else SQLITE_HOUR.format(row="r")))
    if postgresql:
        op.execute(POSTGRESQL_FUNCTION)
        for event, clause in POSTGRESQL_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER deliveries_counts_{event} {clause} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION herald_count_deliveries()")
    else:
        for event, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER deliveries_counts_{event} {body}")


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for event in POSTGRESQL_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS deliveries_counts_{event}" + (" ON deliveries" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION herald_count_deliveries()")
    op.drop_table("delivery_counts")

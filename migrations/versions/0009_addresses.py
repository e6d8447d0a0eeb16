"""Addresses: each lower-cased customer address with its number of customers, kept by triggers.

``shared_addresses`` lists the customers of the addresses used more than once: the audience
counts and planning de-duplicate with those few rows instead of sorting every targeted
address. Triggers (statement-level with transition tables on PostgreSQL, row-level on SQLite)
keep both exact for every write, ORM or not; the upsert's row lock makes concurrent inserts of
one address count correctly.

Revision ID: 0009_addresses
Revises: 0008_run_counters
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_addresses"
down_revision = "0008_run_counters"
branch_labels = None
depends_on = None

ADDED = "SELECT lower(email) AS email, 1 AS n FROM new_rows"
REMOVED = "SELECT lower(email) AS email, -1 AS n FROM old_rows"
# Re-reads the customers of the changed addresses that are (still) shared.
_SHARERS = ("INSERT INTO shared_addresses (customer_id, email) SELECT c.id, a.email FROM addresses a "
            "JOIN customers c ON lower(c.email) = a.email WHERE a.customers > 1 AND a.email IN ({emails});")


def _apply(delta: str) -> str:
    """Add each address's net change (an update that keeps the address nets zero), drop
    addresses no customer uses any more, and rewrite the sharers of the changed addresses.
    The upsert's row lock serialises concurrent writers of one address."""
    changed = f"SELECT email FROM ({delta}) d"
    return (f"INSERT INTO addresses (email, customers) SELECT email, sum(n) FROM ({delta}) d "
            "GROUP BY email HAVING sum(n) <> 0 ORDER BY email "
            "ON CONFLICT (email) DO UPDATE SET customers = addresses.customers + excluded.customers; "
            f"DELETE FROM addresses WHERE customers <= 0 AND email IN ({changed}); "
            f"DELETE FROM shared_addresses WHERE email IN ({changed}); "
            + _SHARERS.format(emails=changed))


POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION herald_count_addresses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN {_apply(ADDED)}
  ELSIF TG_OP = 'DELETE' THEN {_apply(REMOVED)}
  ELSE {_apply(ADDED + " UNION ALL " + REMOVED)}
  END IF;
  RETURN NULL;
END $$
"""
POSTGRESQL_TRIGGERS = {
    "insert": "AFTER INSERT ON customers REFERENCING NEW TABLE AS new_rows",
    "update": "AFTER UPDATE ON customers REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "AFTER DELETE ON customers REFERENCING OLD TABLE AS old_rows",
}


def _sqlite_change(row: str, step: int) -> str:
    """One customer's address ``row`` (NEW or OLD) gains or loses a customer (``step``)."""
    email = f"lower({row}.email)"
    return (f"INSERT INTO addresses (email, customers) VALUES ({email}, {step}) "
            f"ON CONFLICT (email) DO UPDATE SET customers = customers + {step}; "
            f"DELETE FROM addresses WHERE email = {email} AND customers <= 0; "
            f"DELETE FROM shared_addresses WHERE email = {email}; "
            + _SHARERS.format(emails=email))


SQLITE_TRIGGERS = {
    "insert": f"AFTER INSERT ON customers BEGIN {_sqlite_change('NEW', 1)} END",
    "update": ("AFTER UPDATE OF email ON customers WHEN lower(OLD.email) <> lower(NEW.email) "
               f"BEGIN {_sqlite_change('OLD', -1)} {_sqlite_change('NEW', 1)} END"),
    "delete": f"AFTER DELETE ON customers BEGIN {_sqlite_change('OLD', -1)} END",
}


def upgrade():
    op.create_table(
        "addresses",
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_addresses")),
    )
    op.create_table(
        "shared_addresses",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_shared_addresses")),
    )
    op.create_index(op.f("ix_shared_addresses_email"), "shared_addresses", ["email"])
    op.execute("INSERT INTO addresses (email, customers) "
               "SELECT lower(email), count(*) FROM customers GROUP BY lower(email)")
    op.execute(_SHARERS.format(emails="SELECT email FROM addresses WHERE customers > 1"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE addresses; ANALYZE shared_addresses")  # plans see the backfill at once
        op.execute(POSTGRESQL_FUNCTION)
        for event, clause in POSTGRESQL_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER customers_addresses_{event} {clause} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION herald_count_addresses()")
    else:
        for event, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER customers_addresses_{event} {body}")


def downgrade():
    for event in POSTGRESQL_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS customers_addresses_{event}"
                   + (" ON customers" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION herald_count_addresses()")
    op.drop_index(op.f("ix_shared_addresses_email"), table_name="shared_addresses")
    op.drop_table("shared_addresses")
    op.drop_table("addresses")

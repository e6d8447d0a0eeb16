"""Counters whose upkeep does not grow with the network: addresses, suppressed customers, members.

0009's PostgreSQL trigger joined the transition table to ``addresses`` and ``customers`` with
static SQL: PL/pgSQL planned each statement once per connection, while the tables were small,
and kept the plan (sequential scans, a nested loop scanning every address per row) for the
rest of the connection: seeding slowed to 100 customers a second at 130,000 customers. The
triggers here give the planner no such choice: every statement reads a large table only by
index probes (``= ANY`` over the changed keys, LATERAL ... OFFSET 0 subqueries and scalar
subqueries run once per changed row) with sequential scans disabled in the function, so the
cached plan is the same at 10 customers and at 10 million, and costs the same per row.

Two counters are added, kept exact by the same kind of triggers:
- ``suppressed_customers``: each customer whose address is on the suppression list, with the
  reason, so an audience count finds its exclusions in the same pass as its customers.
  Customer and suppression writers of one address serialise on its ``addresses`` row.
- ``membership_counts``: members per product and status (in 16 slots by backend, so concurrent
  writers of one product rarely wait on each other), for the products list.

Revision ID: 0016_flat_counters
Revises: 0013_delivery_spelling
"""
import importlib.util
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0016_flat_counters"
down_revision = "0015_live_counters"
branch_labels = None
depends_on = None

SLOTS = 16
EVENTS = {"insert": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows",
          "update": "AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
          "delete": "AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows"}
# (customer id, lower-cased address, +1 or -1) for each customer that gains or loses an address.
_PAIRS = {
    "INSERT": "SELECT id, lower(email), 1 FROM new_rows",
    "DELETE": "SELECT id, lower(email), -1 FROM old_rows",
    "UPDATE": ("SELECT id, email, sum(n) FROM (SELECT id, lower(email) AS email, 1 AS n FROM new_rows "
               "UNION ALL SELECT id, lower(email), -1 FROM old_rows) c GROUP BY id, email HAVING sum(n) <> 0"),
}
CUSTOMERS_FUNCTION = f"""
CREATE FUNCTION herald_customer_counters() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
DECLARE ids int[]; emails text[]; steps int[];
BEGIN
  IF TG_OP = 'INSERT' THEN SELECT array_agg(p.i), array_agg(p.e), array_agg(p.n) INTO ids, emails, steps FROM ({_PAIRS['INSERT']}) p(i, e, n);
  ELSIF TG_OP = 'DELETE' THEN SELECT array_agg(p.i), array_agg(p.e), array_agg(p.n) INTO ids, emails, steps FROM ({_PAIRS['DELETE']}) p(i, e, n);
  ELSE SELECT array_agg(p.i), array_agg(p.e), array_agg(p.n) INTO ids, emails, steps FROM ({_PAIRS['UPDATE']}) p(i, e, n);
  END IF;
  IF ids IS NULL THEN RETURN NULL; END IF;
  -- Every touched address is upserted in address order (a net zero still locks the row).
  INSERT INTO addresses (email, customers) SELECT e, sum(n) FROM unnest(emails, steps) d(e, n)
    GROUP BY e ORDER BY e ON CONFLICT (email) DO UPDATE SET customers = addresses.customers + excluded.customers;
  DELETE FROM addresses WHERE email = ANY (emails) AND customers <= 0;
  DELETE FROM shared_addresses WHERE email = ANY (emails);
  INSERT INTO shared_addresses (customer_id, email) SELECT c.id, a.email FROM addresses a
    CROSS JOIN LATERAL (SELECT id FROM customers WHERE lower(email) = a.email OFFSET 0) c
    WHERE a.email = ANY (emails) AND a.customers > 1;
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM suppressed_customers WHERE customer_id = ANY (ARRAY(SELECT i FROM unnest(ids, steps) d(i, n) WHERE n < 0));
  END IF;
  INSERT INTO suppressed_customers (customer_id, email, reason) SELECT i, e, r FROM (
    SELECT i, e, (SELECT reason FROM suppressions WHERE email = e) AS r
    FROM unnest(ids, emails, steps) d(i, e, n) WHERE n > 0 OFFSET 0) s WHERE r IS NOT NULL;
  RETURN NULL;
END $$
"""
_TOUCHED = {"INSERT": "SELECT email FROM new_rows", "DELETE": "SELECT email FROM old_rows",
            "UPDATE": "SELECT email FROM new_rows UNION SELECT email FROM old_rows"}
_LOCK = ("INSERT INTO addresses (email, customers) SELECT DISTINCT email, 0 FROM ({touched}) t ORDER BY email "
         "ON CONFLICT (email) DO UPDATE SET customers = addresses.customers; "
         "DELETE FROM addresses WHERE email = ANY (ARRAY({touched})) AND customers <= 0;")
SUPPRESSIONS_FUNCTION = f"""
CREATE FUNCTION herald_suppressed_customers() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
BEGIN
  -- Lock the addresses first: a customer written at the same time waits, or is waited for.
  IF TG_OP = 'INSERT' THEN {_LOCK.format(touched=_TOUCHED['INSERT'])}
  ELSIF TG_OP = 'DELETE' THEN {_LOCK.format(touched=_TOUCHED['DELETE'])}
  ELSE {_LOCK.format(touched=_TOUCHED['UPDATE'])}
  END IF;
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM suppressed_customers WHERE email = ANY (ARRAY(SELECT email FROM old_rows));
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO suppressed_customers (customer_id, email, reason) SELECT c.id, s.email, s.reason FROM new_rows s
      CROSS JOIN LATERAL (SELECT id FROM customers WHERE lower(email) = s.email OFFSET 0) c;
  END IF;
  RETURN NULL;
END $$
"""
_MEMBER_DELTA = {"INSERT": "SELECT product_id, status, 1 AS n FROM new_rows",
                 "DELETE": "SELECT product_id, status, -1 AS n FROM old_rows",
                 "UPDATE": ("SELECT product_id, status, 1 AS n FROM new_rows "
                            "UNION ALL SELECT product_id, status, -1 FROM old_rows")}
_COUNT_MEMBERS = ("INSERT INTO membership_counts (product_id, status, slot, members) "
                  f"SELECT product_id, status, pg_backend_pid() % {SLOTS}, sum(n) FROM ({{delta}}) d "
                  "GROUP BY product_id, status HAVING sum(n) <> 0 ORDER BY product_id, status "
                  "ON CONFLICT (product_id, status, slot) DO UPDATE "
                  "SET members = membership_counts.members + excluded.members;")
MEMBERSHIPS_FUNCTION = f"""
CREATE FUNCTION herald_count_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN {_COUNT_MEMBERS.format(delta=_MEMBER_DELTA['INSERT'])}
  ELSIF TG_OP = 'DELETE' THEN {_COUNT_MEMBERS.format(delta=_MEMBER_DELTA['DELETE'])}
  ELSE {_COUNT_MEMBERS.format(delta=_MEMBER_DELTA['UPDATE'])}
  END IF;
  RETURN NULL;
END $$
"""
POSTGRESQL = {  # table: (trigger name prefix, function, its definition)
    "customers": ("customers_counters", "herald_customer_counters", CUSTOMERS_FUNCTION),
    "suppressions": ("suppressions_customers", "herald_suppressed_customers", SUPPRESSIONS_FUNCTION),
    "memberships": ("memberships_counts", "herald_count_members", MEMBERSHIPS_FUNCTION),
}


@cache
def _previous():
    """Migration 0009, whose triggers this one replaces (and restores on downgrade)."""
    spec = importlib.util.spec_from_file_location("addresses_0009", Path(__file__).with_name("0009_addresses.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sqlite_customer(row: str, step: int) -> str:
    """One customer's address ``row`` (NEW or OLD) gains or loses a customer (``step``): 0009's
    upkeep, its sharers re-read through the address index (0009's join scanned every customer
    on SQLite), and the customer's suppressed row."""
    email = f"lower({row}.email)"
    upkeep = (f"INSERT INTO addresses (email, customers) VALUES ({email}, {step}) "
              f"ON CONFLICT (email) DO UPDATE SET customers = customers + {step}; "
              f"DELETE FROM addresses WHERE email = {email} AND customers <= 0; "
              f"DELETE FROM shared_addresses WHERE email = {email}; "
              f"INSERT INTO shared_addresses (customer_id, email) SELECT id, {email} FROM customers "
              f"WHERE lower(email) = {email} AND (SELECT customers FROM addresses WHERE email = {email}) > 1;")
    if step < 0:
        return upkeep + f" DELETE FROM suppressed_customers WHERE customer_id = {row}.id;"
    return (upkeep + " INSERT INTO suppressed_customers (customer_id, email, reason) "
            f"SELECT {row}.id, {email}, reason FROM suppressions WHERE email = {email};")


def _sqlite_suppressed(row: str, step: int) -> str:
    if step < 0:
        return f"DELETE FROM suppressed_customers WHERE email = {row}.email;"
    return ("INSERT INTO suppressed_customers (customer_id, email, reason) "
            f"SELECT id, {row}.email, {row}.reason FROM customers WHERE lower(email) = {row}.email;")


def _sqlite_members(row: str, step: int) -> str:
    return ("INSERT INTO membership_counts (product_id, status, slot, members) "
            f"VALUES ({row}.product_id, {row}.status, 0, {step}) "
            f"ON CONFLICT (product_id, status, slot) DO UPDATE SET members = members + {step};")


def _sqlite_triggers(table: str, change, update_when: str) -> dict:
    return {"insert": f"AFTER INSERT ON {table} BEGIN {change('NEW', 1)} END",
            "update": f"AFTER UPDATE ON {table} WHEN {update_when} BEGIN {change('OLD', -1)} {change('NEW', 1)} END",
            "delete": f"AFTER DELETE ON {table} BEGIN {change('OLD', -1)} END"}


SQLITE = {
    "customers": ("customers_counters", lambda: _sqlite_triggers(
        "customers", _sqlite_customer, "lower(OLD.email) <> lower(NEW.email) OR OLD.id <> NEW.id")),
    "suppressions": ("suppressions_customers", lambda: _sqlite_triggers(
        "suppressions", _sqlite_suppressed, "OLD.email <> NEW.email OR OLD.reason <> NEW.reason")),
    "memberships": ("memberships_counts", lambda: _sqlite_triggers(
        "memberships", _sqlite_members, "OLD.product_id <> NEW.product_id OR OLD.status <> NEW.status")),
}


def _drop_0009_triggers(postgresql: bool):
    for event in EVENTS:
        op.execute(f"DROP TRIGGER customers_addresses_{event}" + (" ON customers" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION herald_count_addresses()")


def upgrade():
    op.create_table(
        "suppressed_customers",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_suppressed_customers")),
    )
    op.create_index(op.f("ix_suppressed_customers_email"), "suppressed_customers", ["email"])
    op.create_table(
        "membership_counts",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", "status", "slot", name=op.f("pk_membership_counts")),
    )
    op.execute("INSERT INTO suppressed_customers (customer_id, email, reason) SELECT c.id, s.email, s.reason "
               "FROM suppressions s JOIN customers c ON lower(c.email) = s.email")
    op.execute("INSERT INTO membership_counts (product_id, status, slot, members) "
               "SELECT product_id, status, 0, count(*) FROM memberships GROUP BY product_id, status")
    postgresql = op.get_bind().dialect.name == "postgresql"
    _drop_0009_triggers(postgresql)
    if postgresql:
        op.execute("ANALYZE suppressed_customers; ANALYZE membership_counts")
        for table, (prefix, function, definition) in POSTGRESQL.items():
            op.execute(definition)
            for event, clause in EVENTS.items():
                op.execute(f"CREATE TRIGGER {prefix}_{event} {clause.format(table=table)} "
                           f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
    else:
        for table, (prefix, triggers) in SQLITE.items():
            for event, body in triggers().items():
                op.execute(f"CREATE TRIGGER {prefix}_{event} {body}")


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, (prefix, function, _) in POSTGRESQL.items():
        for event in EVENTS:
            op.execute(f"DROP TRIGGER {prefix}_{event}" + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION {function}()")
    previous = _previous()
    if postgresql:
        op.execute(previous.POSTGRESQL_FUNCTION)
        for event, clause in previous.POSTGRESQL_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER customers_addresses_{event} {clause} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION herald_count_addresses()")
    else:
        for event, body in previous.SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER customers_addresses_{event} {body}")
    op.drop_table("membership_counts")
    op.drop_index(op.f("ix_suppressed_customers_email"), table_name="suppressed_customers")
    op.drop_table("suppressed_customers")

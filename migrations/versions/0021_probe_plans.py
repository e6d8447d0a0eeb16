"""Counter triggers whose plans probe whatever the network's size and statistics (issue 14 §6).

A connection plans the triggers' statements once (generic plans, 0016 and 0020) and again
whenever the plans are invalidated: an ANALYZE of a table they read, or any backend whose queue
of catalogue invalidations overflowed (another database's migrations or test suites). Two costs
then grew with the network:

- 0020's key of a flagged address joined ``customers`` and ``memberships``; re-planned on a large
  network without statistics (or with statistics of addresses shared by many customers) the
  planner hashed every membership (a bitmap scan of a whole index: ``enable_seqscan = off`` does
  not forbid it) for each flagged address written. Seeding slowed from 5,400 customers a second
  to 275 at 510,000 in one connection (2% of its customers share an address); a one-customer
  insert on a shared address cost 230–500 ms at 400,000 customers. The key now reads the
  address's customers and then each one's memberships by LATERAL ... OFFSET 0 index probes, as
  the other statements do.
- JIT compilation: a generic plan's estimated cost grows with the tables (236,909 for the
  address statement at 400,000 customers, above ``jit_above_cost``), so every execution paid
  25–40 ms of compilation for a statement that runs in well under a millisecond (and more once
  past ``jit_optimize_above_cost``). The trigger functions run with ``jit = off``.

Revision ID: 0021_probe_plans
Revises: 0020_audience_counts
"""
import importlib.util
from functools import cache
from pathlib import Path

from alembic import op

revision = "0021_probe_plans"
down_revision = "0020_audience_counts"
branch_labels = None
depends_on = None

# The trigger functions of 0016 and 0020 (PostgreSQL only).
FUNCTIONS = ("herald_reach(int[], text[])", "herald_combo_ids(text[])", "herald_reach_memberships()",
             "herald_reach_customers()", "herald_reach_suppressions()", "herald_customer_counters()",
             "herald_suppressed_customers()", "herald_count_members()")


@cache
def _audience_counts():
    """Migration 0020, whose sync function this one rewrites (and restores on downgrade)."""
    path = Path(__file__).with_name("0020_audience_counts.py")
    spec = importlib.util.spec_from_file_location("audience_counts_0020", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _join_key(previous) -> str:
    return f"({previous.PG_KEY} JOIN customers c ON c.id = m.customer_id WHERE lower(c.email) = d.e)"


def _probe_key(previous) -> str:
    """The pairs of the customers of address ``d.e``: its customers by the address index, then
    each one's memberships by the customer index (no join order or method for the planner to pick)."""
    pair = "p.pair COLLATE \"C\""
    return (f"(SELECT string_agg(DISTINCT {pair}, ',' ORDER BY {pair}) "
            "FROM (SELECT id FROM customers WHERE lower(email) = d.e OFFSET 0) c "
            f"CROSS JOIN LATERAL (SELECT {previous.PG_PAIR} FROM memberships m WHERE m.customer_id = c.id "
            "OFFSET 0) p(pair))")


def _sync(key: str) -> str:
    previous = _audience_counts()
    assert _join_key(previous) in previous.SYNC, "0020's address key is not where it was"
    return previous.SYNC.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1).replace(_join_key(previous), key)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_sync(_probe_key(_audience_counts())))
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} SET jit = off")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} RESET jit")
    op.execute(_sync(_join_key(_audience_counts())))

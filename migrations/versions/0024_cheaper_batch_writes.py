"""Less PostgreSQL CPU per sent message: the counters' trigger groups before it names, the outcomes
travel as JSON arrays read as ``jsonb``, and a customer's first site is one index probe.

Measured on a replay of the send loop's outcome write (batches of 100, the backend's CPU from
``/proc``; bench/README.md, "PostgreSQL per message (migration 0024)"):

- ``herald_count_deliveries`` (0015, 0023) made three counter names for every old and new row (600
  rows a batch of 100, each a string built, ``to_char`` of its ``sent_at``) and grouped them. It
  now groups the transition tables first (by status, by skipped reason, by the hour of
  ``sent_at``, ``date_trunc``) and names the few groups: the same counters, the same upsert in
  key order into the transaction's shard; about 1 µs less a message.
- ``herald_record_outcomes(jsonb, timestamp)`` takes each outcome as an array
  ``[id, status, code, reply, message_id, sent_at, next_at]`` (``outcomes.record_outcomes``):
  ``json_to_recordset`` built a hash table for every object; the array elements are read by
  position (about 0.5 µs less a message, and a smaller document to encode).
- the ledger's primary key and ``uq_deliveries_run_email`` leave half of each leaf page free
  (``fillfactor`` 50, PostgreSQL; the pages of runs planned before keep their layout): the
  outcome's update is never HOT (``status`` is indexed) and adds an entry to every index; it no
  longer splits those leaves or has PostgreSQL clean them first (bottom-up deletion: a visit of
  the heap), about 1 µs less a message.
- ``ix_sites_customer_id`` becomes ``ix_sites_customer_id_id`` (customer_id, id): the claim's
  "first site of the customer" (``ORDER BY id LIMIT 1``) reads the first entry instead of sorting
  the customer's sites for every claimed row (about 0.7 µs less a message; SQLite alike).

Workers must be stopped while upgrading (as for 0022 and 0023): an older worker calls
``herald_record_outcomes`` with JSON objects. Downgrade restores 0023's function and trigger body,
the indexes' default fill and the single-column index; counters are never rewritten, both ways.

Revision ID: 0024_cheaper_batch_writes
Revises: 0023_counter_shards
"""
import importlib.util
from pathlib import Path

from alembic import op

revision = "0024_cheaper_batch_writes"
down_revision = "0023_counter_shards"
branch_labels = None
depends_on = None

SHARDS = 16
HOUR = "to_char(g.hour, 'YYYY-MM-DD\"T\"HH24')"
# The counter names of a group of ledger rows (0015's ``_keys``, NULL for none).
NAMES = ("(VALUES ('status:' || g.status), "
         "(CASE WHEN g.status = 'skipped' THEN 'reason:' || coalesce(g.reason, '') END), "
         f"(CASE WHEN g.hour IS NOT NULL THEN 'sent_hour:' || {HOUR} END)) AS k(name)")


def _counter_shards():
    spec = importlib.util.spec_from_file_location("counter_shards_0023",
                                                  Path(__file__).with_name("0023_counter_shards.py"))
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def _groups(rows: str, sign: str) -> str:
    """The transition table ``rows`` grouped by what its counters depend on (run, status, reason,
    hour of ``sent_at``), each group's row count signed by ``sign`` ("" new rows, "-" old rows)."""
    return (f"SELECT run_id, status, reason, date_trunc('hour', sent_at) AS hour, {sign}count(*)::integer AS n "
            f"FROM {rows} GROUP BY run_id, status, reason, hour")


def _apply(groups: str) -> str:
    """0023's upsert (each counter's net change, in key order, into the transaction's shard), from
    the groups' names: a name is made once a group, not once a row."""
    return (f"INSERT INTO delivery_counts (run_id, name, shard, value) "
            f"SELECT g.run_id, k.name, txid_current() % {SHARDS}, sum(g.n) FROM ({groups}) AS g "
            f"CROSS JOIN LATERAL {NAMES} WHERE k.name IS NOT NULL "
            "GROUP BY g.run_id, k.name HAVING sum(g.n) <> 0 ORDER BY g.run_id, k.name "
            "ON CONFLICT (run_id, name, shard) DO UPDATE SET value = delivery_counts.value + excluded.value;")


COUNT_DELIVERIES = f"""
CREATE OR REPLACE FUNCTION herald_count_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN {_apply(_groups('new_rows', ''))}
  ELSE {_apply(_groups('new_rows', '') + ' UNION ALL ' + _groups('old_rows', '-'))}
  END IF;
  RETURN NULL;
END $$
"""

RECORD_OUTCOMES = """
CREATE FUNCTION herald_record_outcomes(outcomes jsonb, attempted_at timestamp) RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
BEGIN
  UPDATE deliveries AS d SET status = v->>1, code = (v->>2)::integer, reply = v->>3,
         message_id = v->>4, sent_at = (v->>5)::timestamp, next_attempt_at = (v->>6)::timestamp,
         reason = NULL, attempts = d.attempts + 1,
         last_attempt_at = herald_record_outcomes.attempted_at
  FROM jsonb_array_elements(outcomes) AS v
  WHERE d.id = (v->>0)::bigint;
END $$
"""

# The claim's check (claims.Claims.next) in one round trip: the claimers' advisory lock of the run
# (0023), then the run's other claims, read after the lock by a statement of its own (a volatile
# function's statement takes a new snapshot under READ COMMITTED: it sees every claim committed
# before the lock was granted).
LOCK_CLAIMS = """
CREATE FUNCTION herald_lock_claims(run integer, owner text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1212437836, run);
  RETURN QUERY SELECT c.ids FROM delivery_claims AS c WHERE c.run_id = run AND c.token <> owner;
END $$
"""


HALF_FULL = ("pk_deliveries", "uq_deliveries_run_email")


def upgrade():
    op.create_index("ix_sites_customer_id_id", "sites", ["customer_id", "id"])
    op.drop_index("ix_sites_customer_id", table_name="sites")
    if op.get_bind().dialect.name == "postgresql":
        for index in HALF_FULL:
            op.execute(f"ALTER INDEX {index} SET (fillfactor = 50)")
        op.execute(COUNT_DELIVERIES)
        op.execute("DROP FUNCTION herald_record_outcomes(json, timestamp)")
        op.execute(RECORD_OUTCOMES)
        op.execute(LOCK_CLAIMS)


def downgrade():
    op.create_index("ix_sites_customer_id", "sites", ["customer_id"])
    op.drop_index("ix_sites_customer_id_id", table_name="sites")
    if op.get_bind().dialect.name == "postgresql":
        for index in HALF_FULL:
            op.execute(f"ALTER INDEX {index} RESET (fillfactor)")
        op.execute("DROP FUNCTION herald_lock_claims(integer, text)")
        previous = _counter_shards()
        op.execute(previous._pg_function())
        op.execute("DROP FUNCTION herald_record_outcomes(jsonb, timestamp)")
        op.execute(previous.RECORD_OUTCOMES)

"""Sending jobs of one run no longer wait for each other's transactions on PostgreSQL.

Every batch transaction of a sending job used to update three kinds of rows every other job of the
run updates too, each locked until the commit: the run's row (``sent`` and ``failed``, after
``SELECT … FOR UPDATE``), and the run's live counters ``status:queued``, ``status:sent``,
``sent_hour:…`` (``delivery_counts``, migration 0015). Two workers' transactions (outcomes, the
next claim, the commit's fsync) ran one after the other.

Now ``delivery_counts`` has a ``shard`` in its key: on PostgreSQL the trigger adds a statement's
change to shard ``txid_current() % 16`` (one shard per transaction, so a transaction's counter
locks stay in one shard, taken in key order as before; two concurrent transactions share a shard
one time in 16, and then one waits for the other as every writer did before), and readers sum the
shards. SQLite (one writer at a time) always writes shard 0. ``herald_record_outcomes`` no longer
adds to the run's ``sent`` and ``failed``: those are the ledger's ``status:sent`` and
``status:failed`` counters (what the broadcasts list reads), and the columns are written when the
run finishes (``services.finish_if_done``).

Upgrade keeps every counter as shard 0. Downgrade sums the shards back into one row per counter,
restores the previous trigger and function, and sets every run's ``sent`` and ``failed`` from its
counters (they were not kept while this revision ran).

Revision ID: 0023_counter_shards
Revises: 0022_delivery_claims
"""
import importlib.util
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0023_counter_shards"
down_revision = "0022_delivery_claims"
branch_labels = None
depends_on = None

SHARDS = 16


@cache
def _load(name: str, module: str):
    spec = importlib.util.spec_from_file_location(module, Path(__file__).with_name(name))
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def _live_counters():
    return _load("0015_live_counters.py", "live_counters_0015")


def _claims():
    return _load("0022_delivery_claims.py", "delivery_claims_0022")


def _pg_function() -> str:
    counters = _live_counters()
    delta = counters._pg_rows("new_rows", 1)
    both = delta + " UNION ALL " + counters._pg_rows("old_rows", -1)

    def apply(rows: str) -> str:
        return (f"INSERT INTO delivery_counts (run_id, name, shard, value) "
                f"SELECT run_id, name, txid_current() % {SHARDS}, sum(n) FROM ({rows}) d "
                "GROUP BY run_id, name HAVING sum(n) <> 0 ORDER BY run_id, name "
                "ON CONFLICT (run_id, name, shard) DO UPDATE SET value = delivery_counts.value + excluded.value;")
    return f"""
CREATE OR REPLACE FUNCTION herald_count_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN {apply(delta)}
  ELSE {apply(both)}
  END IF;
  RETURN NULL;
END $$
"""


RECORD_OUTCOMES = """
CREATE FUNCTION herald_record_outcomes(outcomes json, attempted_at timestamp) RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
BEGIN
  UPDATE deliveries AS d SET status = v.status, code = v.code, reply = v.reply,
         message_id = v.message_id, sent_at = v.sent_at, next_attempt_at = v.next_at, reason = NULL,
         attempts = d.attempts + 1, last_attempt_at = herald_record_outcomes.attempted_at
  FROM json_to_recordset(outcomes)
       AS v(id bigint, status text, code integer, reply text, message_id text, sent_at timestamp,
            next_at timestamp)
  WHERE d.id = v.id;
END $$
"""


def _sqlite_triggers(shard: bool) -> dict:
    """0015's SQLite triggers, with the shard (always 0) in the upsert's key when ``shard``."""
    triggers = dict(_live_counters().SQLITE_TRIGGERS)
    if shard:
        triggers = {event: body.replace("ON CONFLICT (run_id, name)", "ON CONFLICT (run_id, name, shard)")
                    for event, body in triggers.items()}
    return triggers


def _sqlite_rebuild(shard: bool) -> None:
    """SQLite cannot change a primary key: the table is built again, its rows copied."""
    key, column = ("run_id, name, shard", "shard SMALLINT DEFAULT '0' NOT NULL, ") if shard else ("run_id, name", "")
    op.execute(f"CREATE TABLE delivery_counts_new (run_id INTEGER NOT NULL, name VARCHAR(40) NOT NULL, "
               f"{column}value BIGINT NOT NULL, CONSTRAINT pk_delivery_counts PRIMARY KEY ({key}))")
    op.execute("INSERT INTO delivery_counts_new (run_id, name, value) "
               "SELECT run_id, name, sum(value) FROM delivery_counts GROUP BY run_id, name")
    op.execute("DROP TABLE delivery_counts")
    op.execute("ALTER TABLE delivery_counts_new RENAME TO delivery_counts")


def _sqlite_counters(sharded: bool) -> None:
    """SQLite: the counters' table rebuilt with or without ``shard`` and its triggers made again."""
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER deliveries_counts_{event}")
    _sqlite_rebuild(sharded)
    for event, body in _sqlite_triggers(sharded).items():
        op.execute(f"CREATE TRIGGER deliveries_counts_{event} {body}")


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.add_column("delivery_counts", sa.Column("shard", sa.SmallInteger(), nullable=False, server_default="0"))
        op.execute("ALTER TABLE delivery_counts DROP CONSTRAINT pk_delivery_counts, "
                   "ADD CONSTRAINT pk_delivery_counts PRIMARY KEY (run_id, name, shard)")
        op.execute(_pg_function())
        op.execute("DROP FUNCTION herald_record_outcomes(integer, integer, integer, json, timestamp)")
        op.execute(RECORD_OUTCOMES)
    else:
        _sqlite_counters(sharded=True)


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    # One row per counter again: the shards summed into shard 0.
    op.execute("CREATE TEMPORARY TABLE counter_sums AS SELECT run_id, name, sum(value) AS value "
               "FROM delivery_counts GROUP BY run_id, name")
    op.execute("DELETE FROM delivery_counts")
    op.execute("INSERT INTO delivery_counts (run_id, name, shard, value) SELECT run_id, name, 0, value FROM counter_sums")
    op.execute("DROP TABLE counter_sums")
    # The runs' sent and failed as the previous code kept them: from the ledger's counters.
    for column in ("sent", "failed"):
        op.execute(f"UPDATE broadcast_runs SET {column} = coalesce((SELECT c.value FROM delivery_counts c "
                   f"WHERE c.run_id = broadcast_runs.id AND c.name = 'status:{column}'), 0) "
                   "WHERE id IN (SELECT run_id FROM delivery_counts)")
    if postgresql:
        op.execute("DROP FUNCTION herald_record_outcomes(json, timestamp)")
        op.execute(_claims().RECORD_OUTCOMES)
        op.execute("ALTER TABLE delivery_counts DROP CONSTRAINT pk_delivery_counts, "
                   "ADD CONSTRAINT pk_delivery_counts PRIMARY KEY (run_id, name)")
        op.execute(_live_counters().POSTGRESQL_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
        op.drop_column("delivery_counts", "shard")
    else:
        _sqlite_counters(sharded=False)

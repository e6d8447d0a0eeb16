"""One write per ledger row and attempt: the batch a sending job holds is one ``delivery_claims`` row.

Before, claiming a batch marked each of its ledger rows ``sending`` (with the job's token in
``claim``, ``attempts + 1`` and the attempt's time), and the outcome wrote each row again: two
updates of every row per message, neither HOT (``status`` is indexed), each through the live
counters' trigger. Now a claim is one row per job (its lease token, the run, the ids of the batch
as a JSON array, how many were queued, the claim's time); the ledger rows stay queued (or deferred)
until their outcome, which writes status, reply, ``attempts + 1`` and the attempt's time at once.
The reaper finds dead jobs' batches in this table instead of the ledger's ``sending`` rows.

On PostgreSQL a batch's outcomes are written by ``herald_record_outcomes``: the run's sent and
failed counters (its row first, the order of every writer), then one UPDATE from the JSON
document, planned with ``enable_seqscan = off`` (and ``jit = off``, as 0021):
the rows are probed by their key whatever the ledger's statistics (a ledger never analysed, with
autovacuum off or a run planned moments ago, was otherwise read whole for each batch), in one
round trip, its plan kept by the connection.

Upgrade: the rows left in ``sending`` (by jobs that died, or that run while upgrading: stop the
workers first) become one claim per token (rows without a token one per run, under
``legacy-<run>``, whose record is missing: the reaper makes them unknown), and go back to the
status they were claimed from with their attempt taken back, as the reaper did for rows whose dot
never went out. Downgrade puts every claimed row back in ``sending`` under its token.

Revision ID: 0022_delivery_claims
Revises: 0021_probe_plans
"""
import sqlalchemy as sa
from alembic import op

revision = "0022_delivery_claims"
down_revision = "0021_probe_plans"
branch_labels = None
depends_on = None


RECORD_OUTCOMES = """
CREATE FUNCTION herald_record_outcomes(run integer, sent integer, failed integer, outcomes json,
                                       attempted_at timestamp) RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
BEGIN
  UPDATE broadcast_runs SET sent = broadcast_runs.sent + herald_record_outcomes.sent,
         failed = broadcast_runs.failed + herald_record_outcomes.failed
  WHERE id = run;
  UPDATE deliveries AS d SET status = v.status, code = v.code, reply = v.reply,
         message_id = v.message_id, sent_at = v.sent_at, next_attempt_at = v.next_at, reason = NULL,
         attempts = d.attempts + 1, last_attempt_at = herald_record_outcomes.attempted_at
  FROM json_to_recordset(outcomes)
       AS v(id bigint, status text, code integer, reply text, message_id text, sent_at timestamp,
            next_at timestamp)
  WHERE d.id = v.id;
END $$
"""


def upgrade():
    op.create_table(
        "delivery_claims",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("ids", sa.Text(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_delivery_claims")),
    )
    op.create_index(op.f("ix_delivery_claims_run_id"), "delivery_claims", ["run_id"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(RECORD_OUTCOMES)
    ids = "json_agg(id ORDER BY id)::text" if postgresql else "json_group_array(id)"
    now = "now() AT TIME ZONE 'utc'" if postgresql else "CURRENT_TIMESTAMP"
    token = "coalesce(claim, 'legacy-' || run_id)"
    op.execute(f"""
        INSERT INTO delivery_claims (token, run_id, ids, queued, claimed_at)
        SELECT {token}, min(run_id), {ids}, sum(CASE WHEN next_attempt_at IS NULL THEN 1 ELSE 0 END),
               coalesce(max(last_attempt_at), {now})
        FROM deliveries WHERE status = 'sending' GROUP BY {token}""")
    op.execute("""
        UPDATE deliveries SET status = CASE WHEN next_attempt_at IS NULL THEN 'queued' ELSE 'deferred' END,
               attempts = attempts - 1, claim = NULL
        WHERE status = 'sending'""")


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    held = ("SELECT c.token, c.claimed_at, CAST(e.value AS bigint) AS id FROM delivery_claims c "
            + ("CROSS JOIN LATERAL json_array_elements_text(CAST(c.ids AS json)) AS e(value)"
               if postgresql else "JOIN json_each(c.ids) AS e"))
    if postgresql:
        op.execute(f"""
            UPDATE deliveries AS d SET status = 'sending', claim = h.token, attempts = d.attempts + 1,
                   last_attempt_at = h.claimed_at
            FROM ({held}) AS h WHERE d.id = h.id AND d.status IN ('queued', 'deferred')""")
    else:
        op.execute(f"""
            UPDATE deliveries SET status = 'sending', attempts = attempts + 1,
                   claim = (SELECT h.token FROM ({held}) AS h WHERE h.id = deliveries.id),
                   last_attempt_at = (SELECT h.claimed_at FROM ({held}) AS h WHERE h.id = deliveries.id)
            WHERE status IN ('queued', 'deferred') AND id IN (SELECT h.id FROM ({held}) AS h)""")
    if postgresql:
        op.execute("DROP FUNCTION herald_record_outcomes(integer, integer, integer, json, timestamp)")
    op.drop_index(op.f("ix_delivery_claims_run_id"), table_name="delivery_claims")
    op.drop_table("delivery_claims")

"""The per-recipient delivery ledger of a broadcast run, and the customers left out as duplicates."""
from sqlalchemy import BigInteger, Index, Integer

from ..core.extensions import db

# queued -> sent | deferred (-> sent ...) | failed; skipped (excluded or cancelled); unknown: a worker
# died while the row's message was in flight. A row being sent stays queued (or deferred) in the
# ledger: the batch a job holds is one ``DeliveryClaim`` row (migration 0022); ``sending`` is what
# the counters show for it (``progress.status_counts``), and what ledgers before 0022 wrote.
STATUSES = ("queued", "sending", "sent", "deferred", "failed", "skipped", "unknown")
PENDING_STATUSES = ("queued", "sending", "deferred")
EXCLUSION_REASONS = ("unsubscribed", "bounced", "complained", "duplicate")

LedgerId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite's rowid alias must be INTEGER


class Delivery(db.Model):
    """One recipient address of one run: its status, attempts, the server's last reply, times.

    Rows are written set-based at planning (one per address key, ``core.utils.normalise_email``,
    with the winning customer's own ``spelling`` when it differs: messages go to that) and updated
    in batches by the sending jobs, once per attempt (the outcome: migration 0022; the batch a job
    holds is a ``DeliveryClaim``). ``claim`` was the lease token of the job holding a row in
    ``sending`` before 0022 and is no longer written. ``customer_id`` has no foreign key: the ledger is a record that outlives customers.
    Nor has ``run_id`` (migration 0010): its per-row check is costly at planning (bench/README.md)
    and Herald never deletes a run (only drafts that never ran).
    """
    __tablename__ = "deliveries"

    id = db.Column(LedgerId, primary_key=True)
    run_id = db.Column(db.Integer, nullable=False)
    customer_id = db.Column(db.Integer, nullable=True)
    email = db.Column(db.String(254), nullable=False)  # the address key (unique per run)
    spelling = db.Column(db.String(254), nullable=True)  # the customer's own, when not ``email``
    status = db.Column(db.String(16), nullable=False, default="queued")
    reason = db.Column(db.String(32), nullable=True)  # why skipped: a suppression reason, cancelled
    attempts = db.Column(db.Integer, nullable=False, default=0)
    claim = db.Column(db.String(32), nullable=True)
    code = db.Column(db.Integer, nullable=True)  # the SMTP reply code of the last attempt
    reply = db.Column(db.String(500), nullable=True)
    message_id = db.Column(db.String(255), nullable=True)
    last_attempt_at = db.Column(db.DateTime, nullable=True)
    next_attempt_at = db.Column(db.DateTime, nullable=True)
    sent_at = db.Column(db.DateTime, nullable=True)

    __table_args__ = (
        # One row per address and run (a second planning is a no-op); serves e-mail prefix search.
        # On PostgreSQL it and the primary key fill their leaves half (migration 0024): an outcome
        # adds an entry to every index (never a HOT update) without a page split.
        Index("uq_deliveries_run_email", "run_id", "email", unique=True,
              postgresql_ops={"email": "text_pattern_ops"}),
        # Counts by status, the reaper, and the log (keyset by id: per status, or merged across
        # the statuses for the unfiltered log). No (run_id, id) index: each index costs about a
        # second per million rows planned, and every status change writes to all of them.
        Index("ix_deliveries_run_status_id", "run_id", "status", "id"),
    )

    def __repr__(self):
        return f"<Delivery {self.id} run={self.run_id} {self.email} {self.status}>"


class DeliveryDuplicate(db.Model):
    """A targeted customer left out of a run because a customer with a lower id has the address."""
    __tablename__ = "delivery_duplicates"

    run_id = db.Column(db.Integer, db.ForeignKey("broadcast_runs.id", ondelete="CASCADE"),
                       primary_key=True)
    customer_id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=False)


class DeliveryCount(db.Model):
    """A live counter of one run's ledger, kept by triggers (migration 0015): ``status:<status>``,
    ``reason:<reason>`` (skipped rows), ``sent_hour:<YYYY-MM-DDTHH>`` (rows sent in that UTC hour).
    A counter is the sum of its ``shard`` rows (migration 0023: on PostgreSQL each transaction adds
    to one of 16 shards, so concurrent senders do not wait for each other's counter rows)."""
    __tablename__ = "delivery_counts"

    run_id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(40), primary_key=True)
    shard = db.Column(db.SmallInteger, primary_key=True, default=0, server_default="0")
    value = db.Column(db.BigInteger, nullable=False)


class DeliveryClaim(db.Model):
    """The batch of ledger rows one sending job holds (migration 0022): one row per job lease
    ``token`` instead of a write to each ledger row. ``ids`` (a JSON array) are the rows in the
    batch, ``queued`` how many of them were queued when claimed (the rest deferred), ``claimed_at``
    the time of the attempt. The rows themselves stay queued (or deferred) until their outcome is
    written; a claimer of the same run excludes the ids of every other claim (claims of one run
    are serialised by the lock on the run's row), the reaper settles the claims of dead jobs."""
    __tablename__ = "delivery_claims"

    token = db.Column(db.String(32), primary_key=True)
    run_id = db.Column(db.Integer, nullable=False, index=True)
    ids = db.Column(db.Text, nullable=False)
    queued = db.Column(db.Integer, nullable=False, default=0)
    claimed_at = db.Column(db.DateTime, nullable=False)

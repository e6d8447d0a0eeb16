"""One transaction of the send loop: write the outcomes of the batch before, give back what was
never attempted and claim the next batch, committed before any of its messages is sent.

The loop (``app/delivery/sending.py``) runs it in a background thread while it sends the current
batch (``keep``: those rows stay in the job's claim, the new ones are claimed ahead of them), and
in its own thread when a batch ends without one claimed ahead (a stop, the end of a chunk, the
first batch). Either way one transaction, tried again by the caller while the database or Redis
fails transiently; the caller owns nothing of it but the result.
"""
from dataclasses import dataclass, field

from ..core.extensions import db
from . import services
from .claims import Claims, holding
from .outcomes import give_back, lock_run, write_outcomes


@dataclass
class Cycle:
    """What one transaction does for the job holding lease ``token`` on run ``run_id``.

    ``recording``: ``Outcome`` items to write (rows of the job's claim). ``untouched``: ``Claimed``
    rows given back, never attempted. ``keep``: ``Claimed`` rows that stay claimed (the batch sent
    meanwhile), claimed at ``since``. ``header``: row ids whose outcomes this transaction writes,
    in sending order, kept at the head of the write-ahead record's header until it commits.
    ``pause_reason``: pause the run (the failure streak). ``claim``: False once the job's time box
    is over (nothing new is claimed).
    """
    run_id: int
    token: str
    recording: list
    untouched: list = field(default_factory=list)
    keep: list = field(default_factory=list)
    since: object = None
    header: list = field(default_factory=list)
    pause_reason: str | None = None
    claim: bool = True


def run_cycle(cycle: Cycle, claims: Claims, record) -> tuple[list, list, str]:
    """Do ``cycle`` in one transaction and commit it; returns (the outcomes written, the rows
    claimed as ``Claimed`` items in sending order, why none was: "" when some were, "done",
    "stopped", "timeup" or "skipping": ``claims.SKIP_MOST`` rows suppressed since planning were
    skipped and none to send found yet, so rows may be left and the caller claims again in
    another transaction). ``record`` (a ``WriteAheadLog``) gets the header of the claim, its
    rows in sending order, acknowledged before the commit. The run's row is locked first
    (``lock_run``, shared with its other senders), the order a cancel and the reaper take.

    Outcomes are written only while the job holds its claim: when the reaper settled it (the
    lease lapsed), they are its business and nothing is written or claimed ahead. Raises the
    database's and Redis's errors (the transaction is then not committed)."""
    run_status = lock_run(cycle.run_id, share=True)
    held, taken = holding(cycle.run_id, cycle.token)
    written = cycle.recording if held is not None else []  # None: no batch yet, or reaped
    write_outcomes(cycle.run_id, written, held and held.claimed_at)
    give_back(cycle.run_id, cycle.untouched, run_status)
    if cycle.pause_reason and run_status == "sending":  # paused already: by the other transaction
        services.pause_run(cycle.run_id, cycle.pause_reason)
        run_status = "paused"
    sending = run_status == "sending"
    batch = claims.next(held, sending=sending and cycle.claim, taken=taken, keep=cycle.keep,
                        since=cycle.since)
    reason = ("" if batch else "skipping" if claims.skipping else "timeup" if not cycle.claim
              else "done" if sending else "stopped")
    if batch:
        record.begin([*cycle.header, *(c.recipient.delivery_id for c in (*cycle.keep, *batch))])
    db.session.commit()
    return written, batch, reason

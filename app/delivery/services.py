"""Controlling runs: pause, resume, cancel (through the one cancel in broadcasts), resend unknown.

The web pages, the JSON API and the CLI call these and commit; sending jobs call ``pause_run`` to
pause themselves after too many failures in a row. Nothing here commits: side effects outside the
database (Redis chunks, jobs) are registered to follow the caller's commit. A change of a run's status is mirrored on its
broadcast (unless the broadcast is ``scheduled``: a recurring schedule stays scheduled) and fires
``delivery_run_status_changed``.
"""
from sqlalchemy import select, update

from ..broadcasts.models import BroadcastRun
from ..audit.services import record
from ..broadcasts.sending import cancel_run as cancel_broadcast_run
from ..core.extensions import db
from ..core.hooks import do_action
from ..core.jobs import after_commit, enqueue_after_commit
from ..core.utils import utcnow
from . import chunks, jobs, progress
from .models import Delivery

FINISHED = ("sent", "cancelled", "failed")


class RunStateError(ValueError):
    """The action does not fit the run's status; the message says why."""


def get_run(run_id: int, lock: bool = False) -> BroadcastRun:
    """The run with this id (row-locked on PostgreSQL when ``lock``); LookupError if missing."""
    run = db.session.get(BroadcastRun, run_id, with_for_update=lock or None, populate_existing=lock)
    if run is None:
        raise LookupError(f"There is no broadcast run {run_id}.")
    return run


def on_broadcast_sent(broadcast, run) -> None:
    """``broadcast_sent``: an e-mail run starts in ``planning``; plan it once the caller commits."""
    if run.status == "planning" and broadcast.kind == "email":
        enqueue_after_commit(jobs.plan_run, run.id, queue="delivery", track=chunks.track(run.id))


def set_status(run: BroadcastRun, status: str, reason: str | None = None) -> None:
    """Change a run's status (and its broadcast's), stamping times; the caller commits."""
    previous = run.status
    run.status, run.status_reason = status, reason
    if status == "sending" and run.started_at is None:
        run.started_at = utcnow()
    run.finished_at = utcnow() if status in FINISHED else None
    broadcast = run.broadcast
    if broadcast is not None and broadcast.status != "scheduled":
        broadcast.status = status
        if status == "sent":
            broadcast.sent_at = run.finished_at
    if previous != status:
        do_action("delivery_run_status_changed", run, previous)


def pause_run(run_id: int, reason: str = "Paused by an administrator.") -> BroadcastRun:
    """Stop sending after the messages in flight; queued rows wait for resume. The caller commits;
    after the commit the run's waiting chunks leave Redis and its sending loops are told to stop
    (``progress.signal_stop``: they give back the rows they claimed and have not sent)."""
    run = get_run(run_id, lock=True)
    if run.status != "sending":  # a run still planning starts sending only once it is planned
        raise RunStateError(f"Run {run_id} is {run.status}: only a sending run can be paused.")
    set_status(run, "paused", reason)
    record("run.paused", run, reason)
    after_commit(chunks.drop_waiting, run_id)
    after_commit(progress.signal_stop, run_id, "paused")
    return run


def resume_run(run_id: int) -> BroadcastRun:
    """Continue a paused run (or re-plan one whose planning never finished); the caller commits."""
    run = get_run(run_id, lock=True)
    if run.status not in ("planning", "paused"):
        raise RunStateError(f"Run {run_id} is {run.status}: only a paused run can be resumed.")
    record("run.resumed", run, f"was {run.status}")
    if run.status == "planning":
        run.started_at = None
        enqueue_after_commit(jobs.plan_run, run.id, queue="delivery", track=chunks.track(run.id))
        return run
    set_status(run, "sending")
    enqueue_after_commit(jobs.dispatch_run, run.id, queue="delivery", track=chunks.track(run.id))
    after_commit(progress.reset_streak, run_id)
    after_commit(progress.clear_stop, run_id)
    return run


def cancel_run(run_id: int) -> BroadcastRun:
    """Stop for good through the one cancel (``app.broadcasts.sending.cancel_run``); the caller
    commits. Rows not yet sent become skipped in ``on_run_cancelled``."""
    run = get_run(run_id, lock=True)
    if run.status in FINISHED:
        raise RunStateError(f"Run {run_id} is already {run.status}.")
    record("run.cancelled", run, "rows not yet sent were skipped")
    cancel_broadcast_run(run)
    return run


def on_run_cancelled(run: BroadcastRun, previous: str) -> None:
    """``broadcast_run_cancelled``: the run's rows not yet sent become skipped (reason cancelled);
    after the commit its chunks leave Redis and its sending loops are told to stop (the rows they
    claimed and have not sent become skipped too); fires ``delivery_run_status_changed``."""
    if run.broadcast.kind != "email":
        return
    db.session.execute(update(Delivery)
                       .where(Delivery.run_id == run.id, Delivery.status.in_(("queued", "deferred")))
                       .values(status="skipped", reason="cancelled", next_attempt_at=None)
                       .execution_options(synchronize_session=False))
    after_commit(chunks.drop_waiting, run.id)
    after_commit(progress.signal_stop, run.id, "cancelled")
    do_action("delivery_run_status_changed", run, previous)


class UnknownCountChanged(RunStateError):
    """A resend of unknown rows was not confirmed with the run's current number of them.

    ``count``: the rows whose outcome is unknown now; ``expected``: the number the caller
    confirmed (None when it confirmed none). The message says both."""

    def __init__(self, run_id: int, count: int, expected: int | None):
        self.count, self.expected = count, expected
        if expected is not None:
            message = (f"Run {run_id} has {count} recipient(s) with an unknown outcome now, not the "
                       f"{expected} you confirmed: look at them again before resending.")
        elif count:
            message = f"Resending needs a confirmation: {resend_question(count)}"
        else:
            message = f"Run {run_id} has no recipient with an unknown outcome."
        super().__init__(message)


def resend_question(count: int) -> str:
    """The question the page, the API and the CLI ask before resending ``count`` unknown rows."""
    return (f"Their message may already have been delivered. Send it again to these {count} "
            "recipient(s)?")


def resend_unknown(run_id: int, expected: int | None) -> int:
    """Queue again the rows whose fate is unknown (they may have been delivered already), once
    the caller confirmed how many: ``expected`` is the number of them the administrator saw and
    agreed to. The caller commits.

    Returns how many rows were queued (``expected``). Raises UnknownCountChanged when
    ``expected`` is None or not the number of unknown rows under the run's lock (the rows may
    already be queued in the session then: the caller rolls back, as after any RunStateError).
    A finished run goes back to sending; a paused one sends them when resumed.
    """
    run = get_run(run_id, lock=True)
    if run.status in ("cancelled", "planning"):
        raise RunStateError(f"Run {run_id} is {run.status}: nothing can be resent.")
    if expected is None:
        raise UnknownCountChanged(run_id, progress.status_counts(run_id)["unknown"], None)
    count = db.session.execute(update(Delivery)
                               .where(Delivery.run_id == run_id, Delivery.status == "unknown")
                               .values(status="queued", claim=None, next_attempt_at=None,
                                       reply="queued again by an administrator after an unknown outcome")
                               .execution_options(synchronize_session=False)).rowcount
    if count != expected:
        raise UnknownCountChanged(run_id, count, expected)
    record("run.resent_unknown", run, f"{count} recipients with an unknown outcome queued again")
    if count and run.status in FINISHED:
        set_status(run, "sending")
    if count and run.status == "sending":
        enqueue_after_commit(jobs.dispatch_run, run.id, queue="delivery", track=chunks.track(run.id))
    return count


UNKNOWN_PREFIX = "outcome unknown: "  # every unknown row's reply starts so (transport, reaper, loop)
UNKNOWN_CAUSES_SHOWN = 3  # causes a finished run's reason names; the rest are counted


def unknown_summary(run_id: int) -> str:
    """Why the run's rows with an unknown outcome are unknown, from their own replies (grouped by
    ``progress.unknown_reasons``), most frequent first, for a finished run's status reason: "1
    recipient(s) unknown (their message may have been delivered): the connection failed after
    the message was sent, before the server's reply (...)."; with several causes each is counted,
    the first UNKNOWN_CAUSES_SHOWN named. Until 2026-12-01 it said "a worker stopped while
    sending to them" whatever the cause, also when the server had closed the connection."""
    reasons = sorted(progress.unknown_reasons(run_id).items(), key=lambda item: (-item[1], item[0]))
    total = sum(count for _, count in reasons)
    causes = [(count, why.removeprefix(UNKNOWN_PREFIX) if why.startswith(UNKNOWN_PREFIX) else
               why if why != "outcome unknown" else "no reason recorded") for why, count in reasons]
    shown = [why if len(causes) == 1 else f"{count} {why}" for count, why in causes[:UNKNOWN_CAUSES_SHOWN]]
    rest = sum(count for count, _ in causes[UNKNOWN_CAUSES_SHOWN:])
    if rest:
        shown.append(f"{rest} for other reasons")
    text = f"{total} recipient(s) unknown (their message may have been delivered): {'; '.join(shown)}."
    return text if len(text) <= 500 else text[:499] + "…"


def finish_if_done(run_id: int) -> bool:
    """Mark a sending run sent (or failed when nothing got through) once no row is pending; the
    caller commits (the run's Redis keys go after the commit). True when the run finished."""
    pending = db.session.scalar(select(Delivery.id).where(Delivery.run_id == run_id,
                                                          Delivery.status.in_(("queued", "sending",
                                                                               "deferred")))
                                .limit(1))
    if pending is not None:
        return False
    run = get_run(run_id, lock=True)
    if run.status != "sending":
        return False
    counts = progress.status_counts(run_id)
    reason = unknown_summary(run_id) if counts["unknown"] else None
    set_status(run, "failed" if counts["failed"] and not counts["sent"] else "sent", reason)
    run.sent, run.failed = counts["sent"], counts["failed"]  # not kept while sending (migration 0023)
    after_commit(chunks.forget_run, run_id)
    return True


ACTIONS = ("pause", "resume", "cancel", "resend-unknown")


def run_action(run_id: int, action: str, expected_unknown: int | None = None) -> str:
    """Apply one of ``ACTIONS`` to a run; returns a message for people; the caller commits.
    ``expected_unknown``: for resend-unknown, the number of unknown rows the administrator
    confirmed (``resend_unknown``). Raises RunStateError (action not possible now; its
    UnknownCountChanged when a resend is not confirmed with the current number) or LookupError
    (no such run or action)."""
    if action == "pause":
        pause_run(run_id)
        return "Sending is paused: messages in flight finish, the rest waits for Resume."
    if action == "resume":
        run = resume_run(run_id)
        return "Planning starts again." if run.status == "planning" else "Sending resumed."
    if action == "cancel":
        cancel_run(run_id)
        return "The run is cancelled: recipients not sent yet are skipped."
    if action == "resend-unknown":
        count = resend_unknown(run_id, expected_unknown)
        return f"{count} recipient(s) with an unknown outcome are queued again."
    raise LookupError(f"Unknown action {action!r}; use one of: {', '.join(ACTIONS)}.")

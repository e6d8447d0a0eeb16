"""The scheduler: each pass fires the due occurrences of every active schedule (RFC 5545 recurrence).

It runs in every worker started with ``--with-scheduler`` (a thread) or alone (``flask scheduler
run``); several may run at once without double sends. Like a job, a pass owns its transactions:
one per schedule, so one schedule's failure never holds back the others.
"""
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..broadcasts.models import BroadcastRun
from ..broadcasts.sending import start_run
from ..core.extensions import db
from ..core.jobs import fork_guard
from ..core.settings.services import get_option
from ..core.utils import utcnow
from .bounds import ExpansionTimeout
from .models import Schedule
from .rules import RuleError, build_rule, next_after, occurrences_between
from .services import GRACE_SETTING, spec_of

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = 15.0  # seconds between passes


def scheduler_loop(app, interval: float = DEFAULT_INTERVAL, stop: threading.Event | None = None):
    """Fire due occurrences every ``interval`` seconds until ``stop`` is set; errors are logged.
    Each pass holds off the worker's forks (``fork_guard``): a work horse forked mid-pass would
    inherit the pass's database locks."""
    stop = stop or threading.Event()
    while not stop.is_set():
        with app.app_context(), fork_guard():
            try:
                result = run_due()
                if result.fired or result.skipped:
                    app.logger.info("scheduler: %s fired, %s skipped", result.fired, result.skipped)
            except Exception:  # keep the loop alive; the next pass retries
                app.logger.exception("scheduler pass failed")
                db.session.rollback()
            finally:
                db.session.remove()
        stop.wait(interval)


def start_scheduler_thread(app, interval: float = DEFAULT_INTERVAL) -> threading.Event:
    """Run the scheduler loop in a daemon thread (used by ``flask rq worker --with-scheduler``)."""
    stop = threading.Event()
    threading.Thread(target=scheduler_loop, args=(app, interval, stop), daemon=True,
                     name="herald-scheduler").start()
    return stop


@dataclass
class TickResult:
    """What one scheduler pass did."""
    fired: int = 0
    skipped: int = 0
    already_taken: int = 0
    paused: int = 0  # schedules paused because their rule cannot be expanded
    retried: int = 0  # schedules left for the next pass (expansion timed out)


def run_due(now=None) -> TickResult:
    """Fire every due occurrence of every active schedule; safe to run in several processes."""
    now = now or utcnow()
    grace = timedelta(minutes=int(get_option(GRACE_SETTING, 60)))
    result = TickResult()
    due_ids = db.session.scalars(select(Schedule.id).where(Schedule.status == "active",
                                                           Schedule.next_at <= now)).all()
    db.session.commit()
    for schedule_id in due_ids:
        # Take the row's write lock first: a second scheduler waits here, then finds the
        # occurrences handled (and SQLite never deadlocks two readers that both want to write).
        db.session.execute(update(Schedule).where(Schedule.id == schedule_id)
                           .values(checked_until=Schedule.checked_until))
        schedule = db.session.get(Schedule, schedule_id, populate_existing=True)
        if schedule.status != "active" or schedule.next_at is None or schedule.next_at > now:
            db.session.commit()
            continue
        try:  # work the rule out before claiming anything: a bound hit leaves no half pass
            rule = build_rule(spec_of(schedule))
            due = occurrences_between(rule, schedule.checked_until, now)
            next_at = next_after(rule, max(now, schedule.checked_until))
        except RuleError as error:
            _rule_failed(schedule, error, result)
            db.session.commit()
            continue
        for occurrence in due:
            _claim(schedule, occurrence, now - occurrence > grace, now, result)
        schedule.checked_until = max(now, schedule.checked_until)
        schedule.next_at = next_at
        if schedule.next_at is None:
            schedule.status = "ended"
            if schedule.broadcast.status in ("scheduled", "paused"):  # a recurring one is done
                schedule.broadcast.status = "sent" if schedule.broadcast.runs.count() else "cancelled"
        db.session.commit()
    return result


def _rule_failed(schedule, error: RuleError, result: TickResult) -> None:
    """A stored rule that cannot be expanded: retry a timeout next pass, pause on anything else
    (resuming says why), so one bad schedule never stops the others."""
    if isinstance(error, ExpansionTimeout):
        log.warning("broadcast %s: schedule not worked out in time, retried next pass: %s",
                    schedule.broadcast_id, error)
        result.retried += 1
        return
    log.error("broadcast %s: schedule paused, its rule cannot be expanded: %s",
              schedule.broadcast_id, error)
    schedule.status = "paused"
    if schedule.broadcast.status == "scheduled":
        schedule.broadcast.status = "paused"
    result.paused += 1


def _claim(schedule, occurrence, too_late, now, result) -> None:

    taken = db.session.scalar(select(BroadcastRun.id).where(
        BroadcastRun.broadcast_id == schedule.broadcast_id, BroadcastRun.occurrence_at == occurrence))
    if taken is not None:
        result.already_taken += 1
        return
    savepoint = db.session.begin_nested()
    try:
        if too_late:
            db.session.add(BroadcastRun(broadcast_id=schedule.broadcast_id, occurrence_at=occurrence,
                                        status="skipped", finished_at=now,
                                        status_reason="Missed while Herald was not running; older "
                                                      "than the grace window, so not sent late."))
            db.session.flush()
        else:
            start_run(schedule.broadcast, occurrence, final=schedule.kind == "once")
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        result.already_taken += 1
        return
    if too_late:
        result.skipped += 1
        log.warning("broadcast %s: occurrence %s skipped (past the grace window)",
                    schedule.broadcast_id, occurrence)
    else:
        result.fired += 1

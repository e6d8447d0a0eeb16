"""Scheduling services: saving a schedule, pausing/resuming/ending it, and firing due occurrences.

Exactly one run per occurrence, whatever number of schedulers run: each occurrence is claimed by
inserting the run inside a savepoint, and the unique key (broadcast_id, occurrence_at) lets only
one insert win. Occurrences older than the grace window are recorded as skipped, never fired late.
"""
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..broadcasts.models import BroadcastRun
from ..extensions import db
from ..settings.services import get_option
from ..utils import utcnow
from .models import Schedule
from .rules import RuleSpec, build_rule, next_after, occurrences_between, preview, zone

log = logging.getLogger(__name__)
GRACE_SETTING = "scheduling.grace_minutes"


class ScheduleError(ValueError):
    """A schedule action that is not possible now; the message says why."""


def spec_of(schedule: Schedule) -> RuleSpec:
    """The RuleSpec stored in a Schedule row."""
    return RuleSpec(schedule.kind, schedule.timezone, schedule.start_local, schedule.interval,
                    tuple(schedule.weekdays or ()), schedule.month_day, schedule.until,
                    schedule.count, schedule.rrule_text)


def save_schedule(broadcast, spec: RuleSpec, now=None) -> Schedule:
    """Create or replace the broadcast's schedule; future occurrences follow the new rule.

    Raises RuleError (with the form field) when the rule is invalid or has no future occurrence.
    """
    now = now or utcnow()
    preview(spec, now, limit=1)  # validates, and refuses a schedule that never fires
    schedule = broadcast.schedule or Schedule(broadcast=broadcast)
    schedule.kind, schedule.timezone, schedule.start_local = spec.kind, spec.timezone, spec.start
    schedule.interval, schedule.weekdays = spec.interval, list(spec.weekdays)
    schedule.month_day, schedule.until, schedule.count = spec.month_day, spec.until, spec.count
    schedule.rrule_text = spec.rrule_text or ""
    schedule.status = "active"
    schedule.checked_until = now
    schedule.next_at = next_after(build_rule(spec), zone(spec.timezone), now)
    db.session.add(schedule)
    return schedule


def pause(schedule: Schedule) -> None:
    """Stop firing; occurrences while paused are not fired later."""
    if schedule.status != "active":
        raise ScheduleError(f"The schedule is {schedule.status}, not active.")
    schedule.status = "paused"


def resume(schedule: Schedule, now=None) -> None:
    """Fire again from now on (what fell in the pause is not caught up)."""
    if schedule.status != "paused":
        raise ScheduleError(f"The schedule is {schedule.status}, not paused.")
    now = now or utcnow()
    schedule.status, schedule.checked_until = "active", now
    schedule.next_at = next_after(build_rule(spec_of(schedule)), zone(schedule.timezone), now)
    if schedule.next_at is None:
        schedule.status = "ended"


def end(schedule: Schedule) -> None:
    """End the schedule for good: no further occurrences."""
    if schedule.status == "ended":
        raise ScheduleError("The schedule has already ended.")
    schedule.status, schedule.next_at = "ended", None


def change_state(broadcast, action: str, now=None) -> None:
    """Pause, resume or end the broadcast's schedule and keep the broadcast's status in step."""
    schedule = broadcast.schedule
    if schedule is None:
        raise ScheduleError("This broadcast has no schedule.")
    if action == "pause":
        pause(schedule)
        broadcast.status = "paused"
    elif action == "resume":
        resume(schedule, now)
        broadcast.status = "scheduled" if schedule.status == "active" else "sent"
    elif action == "end":
        end(schedule)
        broadcast.status = "sent" if broadcast.runs.count() else "cancelled"
    else:
        raise ScheduleError(f"Unknown schedule action {action!r}.")


def upcoming(limit=10, now=None):
    """The next sends of the network: (schedule, next_at UTC) for active schedules, soonest first."""
    return db.session.scalars(select(Schedule).where(Schedule.status == "active",
                                                     Schedule.next_at.is_not(None))
                              .order_by(Schedule.next_at).limit(limit)).all()


@dataclass
class TickResult:
    """What one scheduler pass did."""
    fired: int = 0
    skipped: int = 0
    already_taken: int = 0


def run_due(now=None, start_run=None) -> TickResult:
    """Fire every due occurrence of every active schedule; safe to run in several processes."""
    if start_run is None:
        from ..broadcasts.services import start_run
    now = now or utcnow()
    grace = timedelta(minutes=int(get_option(GRACE_SETTING, 60)))
    result = TickResult()
    due_ids = db.session.scalars(select(Schedule.id).where(Schedule.status == "active",
                                                           Schedule.next_at <= now)).all()
    for schedule_id in due_ids:
        schedule = db.session.get(Schedule, schedule_id)
        rule, tz = build_rule(spec_of(schedule)), zone(schedule.timezone)
        for occurrence in occurrences_between(rule, tz, schedule.checked_until, now):
            _claim(schedule, occurrence, now - occurrence > grace, now, start_run, result)
        schedule.checked_until = now
        schedule.next_at = next_after(rule, tz, now)
        if schedule.next_at is None:
            schedule.status = "ended"
        db.session.commit()
    return result


def _claim(schedule, occurrence, too_late, now, start_run, result) -> None:
    savepoint = db.session.begin_nested()
    try:
        if too_late:
            db.session.add(BroadcastRun(broadcast_id=schedule.broadcast_id, occurrence_at=occurrence,
                                        status="skipped", finished_at=now,
                                        status_reason="Missed while Herald was not running; older "
                                                      "than the grace window, so not sent late."))
            db.session.flush()
        else:
            start_run(schedule.broadcast, occurrence)
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

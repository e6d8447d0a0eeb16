"""Scheduling services: saving a schedule, pausing/resuming/ending it, and firing due occurrences.

Exactly one run per occurrence, whatever number of schedulers run: each occurrence is claimed by
inserting the run inside a savepoint, and the unique key (broadcast_id, occurrence_at) lets only
one insert win. Occurrences older than the grace window are recorded as skipped, never fired late.
"""
import logging

from sqlalchemy import select

from ..audit.services import record
from ..broadcasts.sending import Problem
from ..core.extensions import db
from ..core.timezones import utc_to_local
from ..core.utils import utcnow
from .describe import describe_spec
from .models import Schedule
from .rules import (
    RuleError,
    RuleSpec,
    build_rule,
    check_start,
    next_after,
    preview,
    zone,
)
from .spacing import check_spacing

log = logging.getLogger(__name__)
GRACE_SETTING = "scheduling.grace_minutes"


class ScheduleError(ValueError):
    """A schedule action that is not possible now; the message says why."""


def spec_of(schedule: Schedule) -> RuleSpec:
    """The RuleSpec stored in a Schedule row."""
    return RuleSpec(schedule.kind, schedule.timezone, schedule.start_local, schedule.interval,
                    tuple(schedule.weekdays or ()), schedule.month_day, schedule.until,
                    schedule.count, schedule.rrule_text, schedule.short_months or "skip")


def check_rule(spec: RuleSpec, kind: str, now=None):
    """Validate ``spec`` for a broadcast of ``kind``: (Recurrence, next send as naive UTC).

    Raises RuleError (``field`` names the form field) when the rule is invalid (a one-off time
    that does not exist in its zone included: ``rules.check_start``), has no future
    occurrence, sends closer together than ``spacing.min_gap(kind)``, or when expanding it hits
    a bound (ExpansionLimit, see ``bounds``). Reads the database (a setting), never writes.
    """
    now = now or utcnow()
    check_start(spec)
    recurrence = build_rule(spec)
    first = next_after(recurrence, now)
    if first is None:
        raise RuleError("This schedule has no occurrence in the future.", "start")
    check_spacing(recurrence, kind, now, zone(spec.timezone))
    return recurrence, first


def save_schedule(broadcast, spec: RuleSpec, now=None, status="active") -> Schedule:
    """Create or replace the broadcast's schedule; future occurrences follow the new rule.

    Raises RuleError (see ``check_rule``) before anything is written. ``status`` is "draft"
    while the broadcast is still being made in the wizard. The caller commits.
    """
    now = now or utcnow()
    _recurrence, first = check_rule(spec, broadcast.kind, now)
    schedule = broadcast.schedule or Schedule(broadcast=broadcast)
    schedule.kind, schedule.timezone, schedule.start_local = spec.kind, spec.timezone, spec.start
    schedule.interval, schedule.weekdays = spec.interval, list(spec.weekdays)
    schedule.month_day, schedule.until, schedule.count = spec.month_day, spec.until, spec.count
    schedule.short_months = spec.short_months or "skip"
    schedule.rrule_text = spec.rrule_text or ""
    schedule.status = status
    schedule.checked_until = now
    schedule.next_at = first
    db.session.add(schedule)
    if status != "draft":  # the wizard's drafts are recorded when the broadcast is scheduled
        record("schedule.saved", ("broadcast", broadcast.id, broadcast.subject),
               f"{spec.kind} schedule in {spec.timezone}" + (f": {spec.rrule_text}" if spec.rrule_text else ""))
    return schedule


def activate(broadcast, now=None) -> Schedule:
    """Make the broadcast's schedule live (a one-off ``send_at`` becomes a "once" schedule)."""
    now = now or utcnow()
    schedule = broadcast.schedule
    if schedule is None or schedule.kind == "once":
        if broadcast.send_at is None:
            raise ScheduleError("This broadcast has no schedule.")
        local = utc_to_local(broadcast.send_at, broadcast.timezone)
        return save_schedule(broadcast, RuleSpec("once", broadcast.timezone, local), now)
    schedule.timezone = broadcast.timezone
    return save_schedule(broadcast, spec_of(schedule), now)


def back_to_draft(broadcast) -> None:
    """The broadcast is a draft again: its schedule stops firing and can be edited in the wizard."""
    schedule = broadcast.schedule
    if schedule is None:
        return
    if schedule.kind == "once":  # the wizard keeps a one-off time in send_at
        db.session.delete(schedule)
        broadcast.schedule = None
    else:
        schedule.status, schedule.next_at = "draft", None


def describe(schedule: Schedule) -> str:
    """One line that says when the schedule fires, e.g. "Every 2 weeks on Tue, Fri at 10:00"
    (see ``describe.describe_spec``); never raises."""
    return describe_spec(spec_of(schedule))


def readiness(problems, broadcast):
    """``broadcast_readiness`` filter: a draft schedule must still have a future occurrence."""

    schedule = broadcast.schedule
    if schedule is not None and schedule.status == "draft":
        try:
            check_rule(spec_of(schedule), broadcast.kind)
        except RuleError as error:
            problems = [*problems, Problem("when", str(error))]
    return problems


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
    try:
        next_at = next_after(build_rule(spec_of(schedule)), now)
    except RuleError as error:
        raise ScheduleError(f"The schedule cannot resume: {error}") from None
    schedule.status, schedule.checked_until, schedule.next_at = "active", now, next_at
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
    record(f"schedule.{ {'pause': 'paused', 'resume': 'resumed', 'end': 'ended'}[action] }",
           ("broadcast", broadcast.id, broadcast.subject), f"schedule {schedule.status}")


def upcoming(limit=10, now=None):
    """The next sends of the network: (schedule, next_at UTC) for active schedules, soonest first."""
    return db.session.scalars(select(Schedule).where(Schedule.status == "active",
                                                     Schedule.next_at.is_not(None))
                              .order_by(Schedule.next_at).limit(limit)).all()


def upcoming_runs(schedule: Schedule, limit: int = 5, now=None) -> list:
    """The next ``limit`` occurrences of a live schedule, as local wall-clock times."""
    if schedule.status != "active":
        return []
    try:
        return preview(spec_of(schedule), now or utcnow(), limit)
    except RuleError:
        return []

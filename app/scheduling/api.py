"""JSON API for schedules: read, replace, pause, resume and end (API keys, under /api/v1)."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify

from ..api.auth import api_error, require_api_key
from ..broadcasts.models import Broadcast
from ..core.extensions import csrf, db
from ..core.inputs import json_fields, read_json_object
from .rules import SHORT_MONTHS, RuleError, RuleSpec, zone
from .services import (
    ScheduleError,
    change_state,
    describe,
    save_schedule,
    spec_of,
    upcoming_runs,
)

bp = Blueprint("scheduling_api", __name__, url_prefix="/api/v1/broadcasts/<int:broadcast_id>/schedule")
bp.before_request(require_api_key)
csrf.exempt(bp)
JSON_KEYS = {"rrule_text": "rrule", "send_at_local": "start"}  # rule fields named as in the JSON body
FIELDS = ("kind", "timezone", "start", "interval", "weekdays", "month_day", "until", "count", "rrule",
          "short_months")  # what a PUT body may hold


def schedule_json(schedule) -> dict:
    """A schedule as JSON, with its next occurrences (local wall-clock times)."""
    spec = spec_of(schedule)
    return {"kind": spec.kind, "timezone": spec.timezone, "status": schedule.status,
            "start": spec.start.isoformat() if spec.start else None, "interval": spec.interval,
            "weekdays": list(spec.weekdays), "month_day": spec.month_day,
            "short_months": spec.short_months,
            "until": spec.until.isoformat() if spec.until else None, "count": spec.count,
            "rrule": spec.rrule_text, "description": describe(schedule),
            "next_at_utc": schedule.next_at.isoformat() + "Z" if schedule.next_at else None,
            "upcoming": [t.isoformat() for t in upcoming_runs(schedule)]}


def spec_from_json(data: dict, default_zone: str) -> RuleSpec:
    """A RuleSpec from a JSON body; RuleError names the bad key.

    ``start`` is local wall-clock time in ``timezone``; one with an offset or Z is converted to
    that zone's wall clock (its instant is kept). ``short_months`` is "skip" or "last_day". A key
    that is none of ``FIELDS`` is refused, as the broadcasts' API refuses one.
    """
    unknown = next((key for key in data if key not in FIELDS), None)
    if unknown is not None:
        raise RuleError(f"Unknown field; a schedule has: {', '.join(FIELDS)}.", unknown[:40])
    for key in ("kind", "timezone", "rrule", "short_months"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise RuleError("must be a string.", key)
    timezone_name = data.get("timezone") or default_zone
    tz = zone(timezone_name)

    def parse(key, kind):
        value = data.get(key)
        if value in (None, ""):
            return None
        try:
            parsed = kind.fromisoformat(str(value))
            return _wall_clock(parsed, tz) if kind is datetime else parsed
        except OverflowError:  # an offset that carries it past year 1 or 9999
            raise RuleError(f"is out of range: in {tz.key} it falls outside the years 1 to 9999.", key) from None
        except ValueError:
            raise RuleError(f"must be an ISO date{'time' if kind is datetime else ''}.", key) from None

    weekdays = data.get("weekdays") or []
    if not isinstance(weekdays, list) or len(weekdays) > 7 or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in weekdays):
        raise RuleError("must be a list of at most 7 weekday numbers, 0 = Monday.", "weekdays")
    weekdays = sorted(set(weekdays))
    for key in ("interval", "month_day", "count"):
        if data.get(key) is not None and (isinstance(data[key], bool) or not isinstance(data[key], int)):
            raise RuleError("must be a whole number.", key)
    for key in ("interval", "month_day", "count"):  # as the form and INTERVAL=, BYMONTHDAY=, COUNT= in a rule
        if data.get(key) is not None and data[key] < 1:
            raise RuleError("must be 1 or more.", key)
    short_months = data.get("short_months") or "skip"
    if short_months not in SHORT_MONTHS:
        raise RuleError(f"must be one of {', '.join(SHORT_MONTHS)}.", "short_months")
    return RuleSpec(data.get("kind") or "", timezone_name, parse("start", datetime),
                    data.get("interval") or 1, tuple(weekdays), data.get("month_day"),
                    parse("until", date), data.get("count"), data.get("rrule") or "", short_months)


def _wall_clock(value: datetime, tz: ZoneInfo) -> datetime:
    """A datetime as naive wall-clock time in ``tz`` (an aware one keeps its instant)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(tz).replace(tzinfo=None)


def _broadcast(broadcast_id) -> Broadcast | None:
    return db.session.get(Broadcast, broadcast_id)


@bp.get("")
def get(broadcast_id):
    """The broadcast's schedule."""
    broadcast = _broadcast(broadcast_id)
    if broadcast is None or broadcast.schedule is None:
        return api_error(404, "This broadcast has no schedule.")
    return jsonify(schedule_json(broadcast.schedule))


@bp.put("")
def replace(broadcast_id):
    """Set the schedule: a draft keeps it until it is scheduled; a live one follows it from now."""
    broadcast = _broadcast(broadcast_id)
    if broadcast is None:
        return api_error(404, "There is no such broadcast.")
    if broadcast.status not in ("draft", "scheduled", "paused"):
        return api_error(409, f"This broadcast is {broadcast.status}; its schedule cannot change.")
    try:
        spec = spec_from_json(read_json_object(), broadcast.timezone)
        if spec.kind == "once" and broadcast.status == "draft":
            raise RuleError("a one-off send of a draft is set with send_at on the broadcast "
                            "(PATCH /api/v1/broadcasts/ID).", "kind")
        current = broadcast.schedule.status if broadcast.schedule else "draft"
        schedule = save_schedule(broadcast, spec, status="draft" if broadcast.status == "draft" else current)
        if broadcast.status == "draft":
            broadcast.send_at, broadcast.timezone = None, spec.timezone
    except RuleError as error:
        db.session.rollback()
        name = JSON_KEYS.get(error.field, error.field)
        return api_error(400, f"{name}: {error}", fields={name: str(error)})
    db.session.commit()
    return jsonify(schedule_json(schedule))


@bp.post("/<any(pause, resume, end):action>")
def change(broadcast_id, action):
    """Pause, resume or end a live schedule (no body fields: 400)."""
    broadcast = _broadcast(broadcast_id)
    if broadcast is None:
        return api_error(404, "There is no such broadcast.")
    json_fields(read_json_object(), {})
    try:
        change_state(broadcast, action)
    except ScheduleError as error:
        db.session.rollback()
        return api_error(409, str(error))
    db.session.commit()
    return jsonify(schedule_json(broadcast.schedule))

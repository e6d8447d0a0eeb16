"""Schedule rules: building RFC 5545 recurrences with dateutil and expanding them in a time zone.

Rules are expanded in the schedule's local wall-clock time and each occurrence is then converted
to UTC, so a daily 09:00 stays 09:00 across daylight-saving changes. A local time that does not
exist (the spring-forward gap) is taken with the offset before the change, i.e. shifted forward.
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule, rrulestr

from ..core.timezones import utc_to_local

KINDS = ("once", "daily", "weekly", "monthly", "rrule")
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_PREVIEW = 12


class RuleError(ValueError):
    """A schedule that cannot be used; ``field`` names the form field the message belongs to."""

    def __init__(self, message, field="rule"):
        super().__init__(message)
        self.field = field


@dataclass
class RuleSpec:
    """What the admin chose in the When step, in local wall-clock terms."""
    kind: str
    timezone: str = "UTC"
    start: datetime | None = None  # local naive: first date and the time of day
    interval: int = 1
    weekdays: tuple = ()  # 0 = Monday
    month_day: int | None = None
    until: date | None = None  # local date, inclusive
    count: int | None = None
    rrule_text: str = ""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; RuleError when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleError(f"Unknown time zone {name!r}.", "timezone") from None


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """Local naive wall-clock time in ``tz`` to naive UTC."""
    return local.replace(tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)


def to_local(utc: datetime, tz: ZoneInfo) -> datetime:
    """Naive UTC to local naive wall-clock time in ``tz``."""
    return utc_to_local(utc, tz.key)


def build_rule(spec: RuleSpec):
    """A dateutil rule (or a one-item list for "once") in local naive time; RuleError if invalid."""
    zone(spec.timezone)
    if spec.kind == "rrule":
        return _parse_rrule(spec)
    if spec.start is None:
        raise RuleError("Choose a date and a time.", "start")
    if spec.kind == "once":
        return [spec.start]
    if spec.interval < 1 or spec.interval > 366:
        raise RuleError("The interval must be between 1 and 366.", "interval")
    end = datetime.combine(spec.until, time(23, 59, 59)) if spec.until else None
    if end is not None and end < spec.start:
        raise RuleError("The end date is before the first occurrence.", "until")
    options = {"dtstart": spec.start, "interval": spec.interval, "until": end, "count": spec.count}
    if spec.kind == "daily":
        return rrule(DAILY, **options)
    if spec.kind == "weekly":
        if not spec.weekdays:
            raise RuleError("Choose at least one weekday.", "weekdays")
        return rrule(WEEKLY, byweekday=sorted(spec.weekdays), **options)
    if spec.kind == "monthly":
        day = spec.month_day or spec.start.day
        if not 1 <= day <= 31:
            raise RuleError("The day of the month must be between 1 and 31.", "month_day")
        return rrule(MONTHLY, bymonthday=day, **options)
    raise RuleError(f"Unknown schedule kind {spec.kind!r}.", "kind")


def _parse_rrule(spec: RuleSpec):
    text = (spec.rrule_text or "").strip()
    if not text:
        raise RuleError("Enter an RRULE such as FREQ=MONTHLY;BYDAY=2TU.", "rrule_text")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not any(line.upper().startswith("DTSTART") for line in lines):
        if spec.start is None:
            raise RuleError("Give a DTSTART line or choose a first date and time.", "start")
        lines.insert(0, f"DTSTART:{spec.start:%Y%m%dT%H%M%S}")
    lines = [line if ":" in line or line.upper().startswith("DTSTART") else f"RRULE:{line}"
             for line in lines]
    try:
        rule = rrulestr("\n".join(lines), ignoretz=True)
    except (ValueError, TypeError) as error:
        raise RuleError(f"This is not a valid RFC 5545 rule: {error}.", "rrule_text") from None
    return rule


def occurrences_between(rule, tz: ZoneInfo, start_utc: datetime, end_utc: datetime) -> list[datetime]:
    """Occurrences (naive UTC) with start_utc < t <= end_utc."""
    lo, hi = to_local(start_utc, tz) - timedelta(hours=3), to_local(end_utc, tz) + timedelta(hours=3)
    local = rule.between(lo, hi, inc=True) if hasattr(rule, "between") else [t for t in rule if lo <= t <= hi]
    return [u for u in (to_utc(t, tz) for t in local) if start_utc < u <= end_utc]


def next_after(rule, tz: ZoneInfo, after_utc: datetime) -> datetime | None:
    """The first occurrence (naive UTC) strictly after ``after_utc``, or None."""
    cursor = to_local(after_utc, tz) - timedelta(hours=3)
    for _ in range(10_000):
        local = rule.after(cursor) if hasattr(rule, "after") else next((t for t in rule if t > cursor), None)
        if local is None:
            return None
        utc = to_utc(local, tz)
        if utc > after_utc:
            return utc
        cursor = local
    return None


def preview(spec: RuleSpec, now_utc: datetime, limit: int = MAX_PREVIEW) -> list[datetime]:
    """The next ``limit`` occurrences after now as local naive times; RuleError if none."""
    rule, tz = build_rule(spec), zone(spec.timezone)
    found, cursor = [], now_utc
    while len(found) < limit:
        nxt = next_after(rule, tz, cursor)
        if nxt is None:
            break
        found.append(to_local(nxt, tz))
        cursor = nxt
    if not found:
        raise RuleError("This schedule has no occurrence in the future.", "start")
    return found

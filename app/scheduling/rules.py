"""Schedule rules: what the admin chose (RuleSpec), built into a bounded Recurrence and previewed.

Rules are expanded in local wall-clock time and each occurrence is then converted to UTC, so a
daily 09:00 stays 09:00 across daylight-saving changes. A local time that does not exist (the
spring-forward gap) is taken with the offset before the change, i.e. shifted forward, as
RFC 5545 3.3.5 says for FORM #3 date-times; a one-off send at such a time is refused (``check_start``).
"""
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule

from ..core.timezones import local_to_utc
from .bounds import ExpansionLimit, RuleError
from .expand import Recurrence, to_local, to_utc
from .recurrence_text import recurrence_from_text

__all__ = ["RuleError", "RuleSpec", "build_rule", "check_start", "next_after", "occurrences_between",
           "preview", "zone", "to_local", "to_utc"]
KINDS = ("once", "daily", "weekly", "monthly", "rrule")
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SHORT_MONTHS = ("skip", "last_day")  # what a monthly day past a short month's end does there
MAX_PREVIEW = 12
MAX_COUNT = 10_000


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
    short_months: str = "skip"  # monthly on day 29-31: "skip" such months or send on "last_day"


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; RuleError (field "timezone") when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):  # OSError: a name too long for a file
        raise RuleError(f"Unknown time zone {name!r}.", "timezone") from None


def build_rule(spec: RuleSpec) -> Recurrence:
    """The spec as a Recurrence (bounded expansion, see ``expand``); RuleError names the field.

    Recurring kinds are RFC 5545 rules (3.3.10): daily is FREQ=DAILY, weekly FREQ=WEEKLY;BYDAY,
    monthly FREQ=MONTHLY;BYMONTHDAY=d, or with ``short_months="last_day"`` and d >= 29
    BYMONTHDAY=28,…,d;BYSETPOS=-1 (day d, or the last day of a shorter month). Without that
    a month with no day d is skipped, as 3.3.10 requires for invalid dates.
    """
    tz = zone(spec.timezone)
    if spec.kind not in KINDS:
        raise RuleError(f"Unknown schedule kind {str(spec.kind)[:40]!r}; use one of: {', '.join(KINDS)}.", "kind")
    if spec.kind == "rrule":
        return recurrence_from_text(spec.rrule_text or "", tz, spec.start)
    if spec.start is None:
        raise RuleError("Choose a date and a time.", "start")
    if spec.kind == "once":
        return Recurrence(tz, dates=[spec.start], field="start")
    if not isinstance(spec.interval, int) or not 1 <= spec.interval <= 366:
        raise RuleError("The interval must be between 1 and 366.", "interval")
    if spec.count is not None and not 1 <= spec.count <= MAX_COUNT:
        raise RuleError(f"The number of sends must be between 1 and {MAX_COUNT:,}.", "count")
    end = datetime.combine(spec.until, time(23, 59, 59)) if spec.until else None
    if end is not None and end < spec.start:
        raise RuleError("The end date is before the first occurrence.", "until")
    options = {"dtstart": spec.start, "interval": spec.interval, "until": end, "count": spec.count}
    if spec.kind == "daily":
        return Recurrence(tz, [rrule(DAILY, **options)], field="interval")
    if spec.kind == "weekly":
        if not spec.weekdays:
            raise RuleError("Choose at least one weekday.", "weekdays")
        if not all(isinstance(d, int) and 0 <= d <= 6 for d in spec.weekdays):
            raise RuleError("Weekdays are numbers from 0 (Monday) to 6 (Sunday).", "weekdays")
        return Recurrence(tz, [rrule(WEEKLY, byweekday=sorted(set(spec.weekdays)), **options)],
                          field="weekdays")
    if spec.kind == "monthly":
        day = spec.month_day or spec.start.day
        if not 1 <= day <= 31:
            raise RuleError("The day of the month must be between 1 and 31.", "month_day")
        if spec.short_months not in SHORT_MONTHS:
            raise RuleError("Choose to skip shorter months or to send on their last day.", "short_months")
        if spec.short_months == "last_day" and day >= 29:
            options.update(bymonthday=list(range(28, day + 1)), bysetpos=-1)
        else:
            options.update(bymonthday=day)
        return Recurrence(tz, [rrule(MONTHLY, **options)], field="month_day")
    raise RuleError(f"Unknown schedule kind {spec.kind!r}.", "kind")


def check_start(spec: RuleSpec) -> None:
    """RuleError (field "start") when a one-off send's wall-clock time does not exist in its zone
    (the clocks skip it for daylight saving time) or falls outside the years 1 to 9999 in UTC:
    the rule of the wizard's and the API's ``send_at`` (``core.timezones.local_to_utc``), for every
    path that saves or previews a schedule. An occurrence of a recurring rule in such a gap keeps
    RFC 5545's shift (3.3.5); a stored rule is expanded as before."""
    if spec.kind == "once" and spec.start is not None:
        try:
            local_to_utc(spec.start, zone(spec.timezone).key)
        except ValueError as error:
            raise RuleError(str(error), "start") from None


def next_after(recurrence: Recurrence, after_utc: datetime) -> datetime | None:
    """The first occurrence (naive UTC) strictly after ``after_utc``, or None when the rule has
    ended. Raises ExpansionLimit (a RuleError) when a bound is hit first."""
    return next(recurrence.after(after_utc), None)


def occurrences_between(recurrence: Recurrence, start_utc: datetime, end_utc: datetime) -> list[datetime]:
    """Occurrences (naive UTC) with start_utc < t <= end_utc; ExpansionLimit when a bound is hit
    before ``end_utc`` is reached."""
    found = []
    for utc in recurrence.after(start_utc):
        if utc > end_utc:
            break
        found.append(utc)
    return found


def upcoming_utc(recurrence: Recurrence, now_utc: datetime, limit: int) -> list[datetime]:
    """Up to ``limit`` occurrences after now (naive UTC); fewer when a bound stops the walk after
    at least one was found (ExpansionLimit when none was)."""
    found: list[datetime] = []
    try:
        found.extend(islice(recurrence.after(now_utc), limit))
    except ExpansionLimit:
        if not found:
            raise
    return found


def preview(spec: RuleSpec, now_utc: datetime, limit: int = MAX_PREVIEW) -> list[datetime]:
    """The next ``limit`` occurrences after now as naive wall-clock times in ``spec.timezone``.

    Raises RuleError when the rule is invalid or has no occurrence in the future, and
    ExpansionLimit (a RuleError) when a bound is hit before the first one is found.
    """
    tz = zone(spec.timezone)
    check_start(spec)
    found = upcoming_utc(build_rule(spec), now_utc, limit)
    if not found:
        raise RuleError("This schedule has no occurrence in the future.", "start")
    return [to_local(utc, tz) for utc in found]

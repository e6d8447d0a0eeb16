"""Turning parsed RFC 5545 text into a Recurrence: which zone it runs in, each value in that zone.

The zone comes from DTSTART (RFC 5545 3.3.5): with TZID (FORM #3) the rule runs in that zone,
with Z (FORM #2) in UTC, and a floating DTSTART (FORM #1), or none, in the schedule's time zone.
Other values are converted into that zone: UTC and TZID values keep their instant, floating
values are read in DTSTART's zone, and an UNTIL date (no time) bounds the whole day.
"""
from datetime import datetime
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from .bounds import RuleError
from .expand import Recurrence, to_local, to_utc
from .rfc5545 import FIELD, parse_text
from .rrule_parts import Stamp, rule_value

UTC = ZoneInfo("UTC")
FIRST_YEAR, LAST_YEAR = 1000, 8999


def recurrence_from_text(text: str, schedule_zone: ZoneInfo, start: datetime | None) -> Recurrence:
    """The Recurrence of pasted RFC 5545 text; ``start`` (local, schedule zone) stands in for a
    missing DTSTART. Raises RuleError naming the problem (field "rrule_text", or "start" when a
    DTSTART is needed and neither the text nor the form gives one)."""
    if not text.strip():
        raise RuleError("Enter an RRULE such as FREQ=MONTHLY;BYDAY=2TU.", FIELD)
    parsed = parse_text(text)
    dtstart = parsed.dtstart or (Stamp(_naive(start, schedule_zone), "floating") if start else None)
    if dtstart is None and parsed.rrules:
        raise RuleError("Give a DTSTART line or choose a first date and time.", "start")
    rule_zone = _zone_of(dtstart, schedule_zone)
    first = _local(dtstart, rule_zone, "DTSTART") if dtstart else None
    rules = [_rule(parts, until, first, rule_zone) for parts, until in parsed.rrules]
    dates = [_local(s, rule_zone, "RDATE") for s in parsed.rdates]
    if not parsed.rrules and first is not None:
        dates.append(first)  # without RRULE, DTSTART is the set's first instance (3.8.5.3)
    exdates = frozenset(_local(s, rule_zone, "EXDATE") for s in parsed.exdates)
    return Recurrence(rule_zone, rules, sorted(set(dates)), exdates, field=FIELD)


def describe_zone(text: str, schedule_zone: str) -> str | None:
    """The zone the text's rule runs in when it is not the schedule's (for the description),
    else None; never raises."""
    try:
        parsed = parse_text(text)
    except RuleError:
        return None
    if parsed.dtstart is None or parsed.dtstart.form == "floating":
        return None
    name = "UTC" if parsed.dtstart.form == "utc" else parsed.dtstart.zone
    return None if name == schedule_zone else name


def _naive(start: datetime, schedule_zone: ZoneInfo) -> datetime:
    """A form's start as local naive time (an aware one is converted to the schedule's zone)."""
    if start.tzinfo is not None:
        return start.astimezone(schedule_zone).replace(tzinfo=None)
    return start


def _zone_of(dtstart: Stamp | None, schedule_zone: ZoneInfo) -> ZoneInfo:
    if dtstart is None or dtstart.form == "floating":
        return schedule_zone
    return UTC if dtstart.form == "utc" else ZoneInfo(dtstart.zone)


def _local(value: Stamp, rule_zone: ZoneInfo, name: str) -> datetime:
    """``value`` as naive wall-clock time in ``rule_zone`` (floating values and UNTIL dates are
    already in it); RuleError outside the years served."""
    if not FIRST_YEAR <= value.wall.year <= LAST_YEAR:
        raise RuleError(f"{name} {value.wall:%Y-%m-%d}: years from {FIRST_YEAR} to {LAST_YEAR} "
                        "only.", FIELD)
    if value.form in ("floating", "date"):
        return value.wall
    source = UTC if value.form == "utc" else ZoneInfo(value.zone)
    if source.key == rule_zone.key:
        return value.wall
    return to_local(to_utc(value.wall, source), rule_zone)


def _rule(parts: dict, until: Stamp | None, first: datetime, rule_zone: ZoneInfo):
    """One dateutil rrule from checked RRULE parts, UNTIL converted into the rule's zone."""
    until_local = _local(until, rule_zone, "UNTIL") if until else None
    if until_local is not None and until_local < first:
        raise RuleError(f"UNTIL ({until_local:%Y-%m-%d %H:%M}) is before DTSTART "
                        f"({first:%Y-%m-%d %H:%M}), so the rule never sends.", FIELD)
    try:
        return rrulestr(rule_value(parts, until_local), dtstart=first)
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        raise RuleError(f"This is not a valid RFC 5545 rule: {error}.", FIELD) from None

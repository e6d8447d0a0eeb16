"""Checking an RRULE value part by part against RFC 5545 3.3.10, with a message per problem."""
import re
from dataclasses import dataclass
from datetime import datetime

from ..core.inputs import digits
from .bounds import RuleError

FIELD = "rrule_text"
PREFIX = "This is not a valid RFC 5545 rule: "
FREQS = ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Numeric list parts: (lowest, highest, negative values allowed), RFC 5545 3.3.10's grammar.
RANGES = {"BYSECOND": (0, 59, False), "BYMINUTE": (0, 59, False), "BYHOUR": (0, 23, False),
          "BYMONTHDAY": (1, 31, True), "BYYEARDAY": (1, 366, True), "BYWEEKNO": (1, 53, True),
          "BYMONTH": (1, 12, False), "BYSETPOS": (1, 366, True)}
PARTS = ("FREQ", "UNTIL", "COUNT", "INTERVAL", "BYDAY", "WKST", *RANGES)
WEEKDAY_NUM = re.compile(r"^([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
UNTIL = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$")


@dataclass(frozen=True)
class Stamp:
    """One DATE-TIME value (RFC 5545 3.3.5): ``wall`` is naive; ``form`` says how to read it.

    ``form`` is "floating" (FORM #1, read in the schedule's zone), "utc" (FORM #2, ``wall`` is
    UTC), "tzid" (FORM #3, ``wall`` is local time in ``zone``) or, for UNTIL only, "date" (a
    DATE: ``wall`` is 23:59:59 that day, read in the rule's zone).
    """
    wall: datetime
    form: str
    zone: str | None = None


def check_rrule(value: str) -> tuple[dict, object]:
    """Check one RRULE value; return (parts without UNTIL, UNTIL as a Stamp or None).

    ``parts`` maps upper-case part names to upper-case values, ready to be joined for
    ``dateutil.rrule.rrulestr``. Raises RuleError (field "rrule_text") naming the part and the
    RFC 5545 3.3.10 rule it breaks: unknown or repeated parts, no FREQ, COUNT with UNTIL,
    values out of range, BYxxx parts that the FREQ does not allow.
    """
    try:
        return _check(value)
    except RuleError as error:
        raise RuleError(PREFIX + str(error), FIELD) from None


def _check(value: str) -> tuple[dict, object]:
    parts: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in value.strip().strip(";").split(";"))):
        name, sep, raw = pair.partition("=")
        name, raw = name.strip().upper(), raw.strip().upper()
        if not sep or not raw:
            raise RuleError(f"RRULE part {pair!r} has no value (write NAME=VALUE).", FIELD)
        if name not in PARTS:
            raise RuleError(f"RRULE part {name} is not in RFC 5545 (3.3.10).", FIELD)
        if name in parts:
            raise RuleError(f"RRULE part {name} appears twice; it MUST NOT (RFC 5545 3.3.10).", FIELD)
        parts[name] = raw
    freq = parts.get("FREQ")
    if freq is None:
        raise RuleError("FREQ is missing (e.g. FREQ=WEEKLY).", FIELD)
    if freq not in FREQS:
        raise RuleError(f"FREQ={freq} is not one of {', '.join(FREQS)}.", FIELD)
    if "COUNT" in parts and "UNTIL" in parts:
        raise RuleError("COUNT and UNTIL MUST NOT be used together (RFC 5545 3.3.10); keep one.", FIELD)
    for name in ("COUNT", "INTERVAL"):
        if name in parts and (digits(parts[name]) or 0) < 1:
            raise RuleError(f"{name}={parts[name]} must be a positive whole number.", FIELD)
    for name, (low, high, negative) in RANGES.items():
        if name in parts:
            _numbers(name, parts[name], low, high, negative)
    if "WKST" in parts and parts["WKST"] not in WEEKDAYS:
        raise RuleError(f"WKST={parts['WKST']} is not a weekday (MO … SU).", FIELD)
    if "BYDAY" in parts:
        _weekdays(parts["BYDAY"], freq, "BYWEEKNO" in parts)
    _allowed_with(freq, parts)
    until = parts.pop("UNTIL", None)
    return parts, (_until(until) if until else None)


def _numbers(name, raw, low, high, negative) -> None:
    for item in raw.split(","):
        number = item.lstrip("+-")
        bad = digits(number) is None or (item.startswith("-") and not negative)
        if bad or not low <= digits(number) <= high:
            span = f"{low} to {high}" + (f" or -{high} to -1" if negative else "")
            raise RuleError(f"{name}={raw}: {item!r} is not allowed; use {span}.", FIELD)


def _weekdays(raw, freq, with_weekno) -> None:
    for item in raw.split(","):
        match = WEEKDAY_NUM.match(item)
        if not match or (match.group(2) and not 1 <= int(match.group(2)) <= 53):
            raise RuleError(f"BYDAY={raw}: {item!r} is not a weekday such as MO, 2TU or -1FR.", FIELD)
        if match.group(2) and (freq not in ("MONTHLY", "YEARLY") or with_weekno):
            raise RuleError(f"BYDAY={raw}: a numbered weekday ({item}) is only allowed with "
                            "FREQ=MONTHLY or FREQ=YEARLY without BYWEEKNO (RFC 5545 3.3.10).", FIELD)


def _allowed_with(freq, parts) -> None:
    """The FREQ/BYxxx combinations RFC 5545 3.3.10 forbids."""
    if "BYMONTHDAY" in parts and freq == "WEEKLY":
        raise RuleError("BYMONTHDAY MUST NOT be used with FREQ=WEEKLY (RFC 5545 3.3.10).", FIELD)
    if "BYYEARDAY" in parts and freq in ("DAILY", "WEEKLY", "MONTHLY"):
        raise RuleError(f"BYYEARDAY MUST NOT be used with FREQ={freq} (RFC 5545 3.3.10).", FIELD)
    if "BYWEEKNO" in parts and freq != "YEARLY":
        raise RuleError("BYWEEKNO is only allowed with FREQ=YEARLY (RFC 5545 3.3.10).", FIELD)
    if "BYSETPOS" in parts and not any(p.startswith("BY") and p != "BYSETPOS" for p in parts):
        raise RuleError("BYSETPOS needs another BYxxx part to pick from (RFC 5545 3.3.10).", FIELD)


def _until(raw: str):
    """UNTIL as a Stamp: a DATE bounds inclusively to the end of that day (form "date")."""
    match = UNTIL.match(raw)
    if not match:
        raise RuleError(f"UNTIL={raw} is not a date or date-time such as 20301231 or "
                        "20301231T235959Z.", FIELD)
    numbers = [int(g) for g in match.groups()[:6] if g is not None]
    try:
        wall = datetime(*numbers)
    except ValueError:
        raise RuleError(f"UNTIL={raw}: there is no such date or time.", FIELD) from None
    if match.group(4) is None:
        return Stamp(wall.replace(hour=23, minute=59, second=59), "date")
    return Stamp(wall, "utc" if match.group(7) else "floating")


def rule_value(parts: dict, until_local: datetime | None) -> str:
    """The RRULE value for dateutil's rrulestr, with UNTIL as a floating local date-time."""
    value = ";".join(f"{k}={v}" for k, v in parts.items())
    return value + (f";UNTIL={until_local:%Y%m%dT%H%M%S}" if until_local else "")

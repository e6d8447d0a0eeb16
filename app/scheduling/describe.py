"""Saying in words when a schedule sends, including what a rule silently skips or shifts."""
import re

from ..core.inputs import digits
from .recurrence_text import describe_zone
from .rfc5545 import parse_text
from .rules import WEEKDAY_NAMES, RuleError, RuleSpec

SHORT = {29: "February in common years", 30: "February",
         31: "February, April, June, September and November"}
BYMONTHDAY = re.compile(r"BYMONTHDAY=([-+\d,]+)")
UNITS = {"SECONDLY": "second", "MINUTELY": "minute", "HOURLY": "hour", "DAILY": "day", "WEEKLY": "week",
         "MONTHLY": "month", "YEARLY": "year"}
SAID_IN_WORDS = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYHOUR", "BYMINUTE", "COUNT", "WKST"}
DAY_CODES = {"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday",
             "SA": "Saturday", "SU": "Sunday"}
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last", -2: "second to last"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")


def describe_spec(spec: RuleSpec) -> str:
    """One line that says when ``spec`` sends, e.g. "Every 2 weeks on Tue, Fri at 10:00 (UTC)".

    Never raises: a rule that cannot be read is described by its text. A monthly day past a
    short month's end says what happens in such months (RFC 5545 3.3.10 skips invalid dates).
    """
    try:
        return _describe(spec)
    except (RuleError, AttributeError, KeyError, TypeError, ValueError):
        return f"By the rule {str(spec.rrule_text or spec.kind).strip()} ({spec.timezone})"


def _describe(spec: RuleSpec) -> str:
    at = f" at {spec.start:%H:%M}" if spec.start is not None else ""
    if spec.kind == "once":
        return f"Once, on {spec.start:%A %d %B %Y at %H:%M} ({spec.timezone})"
    if spec.kind == "rrule":
        text = rrule_words(spec.rrule_text, spec.start) or f"By the rule {' '.join(spec.rrule_text.split())}"
        other = describe_zone(spec.rrule_text, spec.timezone)
        if other:
            text += f", in {other} time (from its DTSTART)"
        notes = rrule_notes(spec.rrule_text)
        return f"{text} ({spec.timezone})" + (f"; {notes[0]}" if notes else "")
    unit = {"daily": "day", "weekly": "week", "monthly": "month"}[spec.kind]
    text = "Every " + (unit if spec.interval == 1 else f"{spec.interval} {unit}s")
    if spec.kind == "weekly":
        text += " on " + ", ".join(WEEKDAY_NAMES[d] for d in sorted(spec.weekdays))
    if spec.kind == "monthly":
        text += " " + month_day_words(spec.month_day or spec.start.day, spec.short_months)
    text += at
    if spec.start is not None:
        text += f", from {spec.start:%d %b %Y}"
    if spec.until:
        text += f" until {spec.until:%d %b %Y}"
    if spec.count:
        text += f", {spec.count} times"
    text += f" ({spec.timezone})"
    note = short_month_note(spec)
    return f"{text}; {note}" if note else text


def month_day_words(day: int, short_months: str) -> str:
    """"on day 15", "on the last day of the month", "on day 30 (or the last day of February)"."""
    if short_months != "last_day" or day < 29:
        return f"on day {day}"
    if day == 31:
        return "on the last day of the month"
    return f"on day {day} (the last day of {SHORT[day].replace(' in common years', '')} " \
           "when it is shorter)"


def short_month_note(spec: RuleSpec) -> str | None:
    """What a monthly day 29-31 that skips short months does, in plain words, or None."""
    if spec.kind != "monthly" or spec.short_months == "last_day" or spec.start is None:
        return None
    day = spec.month_day or spec.start.day
    if day < 29:
        return None
    return f"no send in {SHORT[day]}, which {'has' if day < 31 else 'have'} no day {day}"


def rrule_notes(text: str) -> list[str]:
    """Plain-words notes on pasted rule text: BYMONTHDAY past a short month's end; never raises."""
    try:
        parsed = parse_text(text)
    except RuleError:
        return []
    notes = []
    for parts, _until in parsed.rrules:
        if "BYSETPOS" in parts or "BYMONTHDAY" not in parts:
            continue
        days = [digits(d.lstrip("+")) for d in parts["BYMONTHDAY"].split(",") if digits(d.lstrip("+")) is not None]
        late = min(days, default=0)
        if late >= 29:
            notes.append(f"BYMONTHDAY={late} sends nothing in months without a day {late} "
                         f"({SHORT[late]}); BYMONTHDAY=-1 is the last day of every month")
    return notes


def notes_for(spec: RuleSpec | None) -> list[str]:
    """Sentences for the planning preview about months the schedule skips or shifts."""
    if spec is None:
        return []
    if spec.kind == "rrule":
        return [n[0].upper() + n[1:] + "." for n in rrule_notes(spec.rrule_text)]
    note = short_month_note(spec)
    if note is None:
        return []
    return [note[0].upper() + note[1:] + ". Choose “send on the month's last day” to send in "
            "those months too."]


def _day_words(code: str) -> str:
    match = BYDAY.match(code)
    number = int(match.group(1)) if match.group(1) else None
    if number is None:
        return DAY_CODES[match.group(2)]
    if number not in ORDINALS:
        raise ValueError(code)
    return f"the {ORDINALS[number]} {DAY_CODES[match.group(2)]}"


def _month_day_words(day: str) -> str:
    number = int(day)
    return "the last day" if number == -1 else f"day {number}" if number > 0 else f"day {number} from the end"


def rrule_words(text: str, start=None) -> str | None:
    """One RRULE said in words ("Every 2 weeks on Tuesday, Friday at 10:00, from 05 Jan 2030"),
    or None when the text holds more than one rule, RDATE/EXDATE lines or parts not said in
    words (BYSETPOS, BYWEEKNO, BYYEARDAY …): the caller then shows the rule's text."""
    try:
        parsed = parse_text(text)
        if len(parsed.rrules) != 1 or parsed.rdates or parsed.exdates:
            return None
        parts, until = parsed.rrules[0]
        if set(parts) - SAID_IN_WORDS:
            return None
        interval, unit = int(parts.get("INTERVAL", "1")), UNITS[parts["FREQ"]]
        words = "Every " + (unit if interval == 1 else f"{interval} {unit}s")
        if "BYMONTHDAY" in parts:
            words += " on " + ", ".join(_month_day_words(d) for d in parts["BYMONTHDAY"].split(","))
        if "BYDAY" in parts:
            words += " on " + ", ".join(_day_words(d) for d in parts["BYDAY"].split(","))
        if "BYMONTH" in parts:
            words += " in " + ", ".join(MONTHS[int(m) - 1] for m in parts["BYMONTH"].split(","))
        first = parsed.dtstart.wall if parsed.dtstart else start
        hours = parts.get("BYHOUR", "").split(",") if "BYHOUR" in parts else [f"{first:%H}"] if first else []
        minutes = parts.get("BYMINUTE", "").split(",") if "BYMINUTE" in parts else [f"{first:%M}"] if first else []
        if hours and minutes and unit not in ("second", "minute", "hour"):
            words += " at " + ", ".join(f"{int(h):02d}:{int(m):02d}" for h in hours for m in minutes)
        if first:
            words += f", from {first:%d %b %Y}"
        if until is not None:
            words += f" until {until.wall:%d %b %Y}" + (" (UTC)" if until.form == "utc" else "")
        if "COUNT" in parts:
            words += f", {int(parts['COUNT'])} times"
        return words
    except (RuleError, ValueError, KeyError, IndexError, TypeError):
        return None

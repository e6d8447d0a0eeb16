"""Saying in words when a schedule sends, including what a rule silently skips or shifts."""
import re

from ..core.inputs import digits
from .recurrence_text import describe_zone
from .rfc5545 import parse_text
from .rules import WEEKDAY_NAMES, RuleError, RuleSpec

SHORT = {29: "February in common years", 30: "February",
         31: "February, April, June, September and November"}
BYMONTHDAY = re.compile(r"BYMONTHDAY=([-+\d,]+)")


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
        text = f"By the rule {' '.join(spec.rrule_text.split())}"
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

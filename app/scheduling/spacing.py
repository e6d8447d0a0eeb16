"""The least time between two sends of a schedule: a setting for e-mail, one minute for any."""
from datetime import datetime, timedelta
from itertools import islice

from ..core.settings.services import get_option
from .bounds import ExpansionLimit, RuleError
from .expand import Recurrence, to_local

EMAIL_GAP_SETTING = "scheduling.email_min_interval_minutes"
EMAIL_GAP_DEFAULT = 60
EMAIL_GAP_RANGE = (1, 10_080)  # one minute to one week
FLOOR = timedelta(minutes=1)  # any schedule: the scheduler looks every 15 s, runs are not free
SAMPLE = 500  # upcoming sends compared when a schedule is saved


def validate_gap(value: int) -> int:
    """Validator of the e-mail minimum interval setting (minutes); ValueError with a message."""
    low, high = EMAIL_GAP_RANGE
    if not low <= value <= high:
        raise ValueError(f"The minimum interval must be between {low} and {high:,} minutes.")
    return value


def declare_settings(settings, spec_class) -> None:
    """Register the e-mail minimum interval setting on the app's settings registry."""
    settings.declare(spec_class(
        EMAIL_GAP_SETTING, EMAIL_GAP_DEFAULT, "Minimum time between scheduled e-mails (minutes)",
        "A recurring e-mail schedule whose sends come closer together than this is refused "
        "when it is saved (already saved schedules keep sending).", "int", validate=validate_gap))


def min_gap(kind: str) -> timedelta:
    """The least time allowed between two sends of a broadcast of ``kind`` ("email"/"notice")."""
    if kind != "email":
        return FLOOR

    try:
        minutes = int(get_option(EMAIL_GAP_SETTING, EMAIL_GAP_DEFAULT))
    except (TypeError, ValueError):
        minutes = EMAIL_GAP_DEFAULT
    return max(FLOOR, timedelta(minutes=minutes))


def check_spacing(recurrence: Recurrence, kind: str, now_utc: datetime, display_zone) -> None:
    """Refuse (RuleError on the rule's field) a recurrence whose next SAMPLE sends include two
    closer than ``min_gap(kind)`` (the message names both sends in ``display_zone``), or whose
    next SAMPLE sends cannot all be worked out within the expansion's bounds (ExpansionLimit)."""
    least = min_gap(kind)
    previous, seen = None, 0
    try:
        for utc in islice(recurrence.after(now_utc), SAMPLE):
            if previous is not None and utc - previous < least:
                raise RuleError(_message(kind, least, previous, utc, display_zone), recurrence.field)
            previous, seen = utc, seen + 1
    except ExpansionLimit as limit:
        if previous is None:
            raise
        # Sends past the bound could come closer than allowed: unchecked is refused, never accepted.
        raise type(limit)(f"Only the next {seen} sends of this rule could be worked out, so the time "
                          f"between its next {SAMPLE} sends cannot be checked: {limit}", recurrence.field) from None


def _message(kind, least, first, second, zone) -> str:
    a, b = to_local(first, zone), to_local(second, zone)
    gap = second - first
    what = ("E-mail schedules" if kind == "email" else "Schedules")
    setting = " (the setting “Minimum time between scheduled e-mails”)" if kind == "email" else ""
    return (f"{what} must leave at least {_span(least)} between sends{setting}; this one sends at "
            f"{a:%Y-%m-%d %H:%M:%S} and {b:%Y-%m-%d %H:%M:%S} ({zone.key}), {_span(gap)} apart.")


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0 and seconds:
        hours = seconds // 3600
        return "1 hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0 and seconds:
        minutes = seconds // 60
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    return "1 second" if seconds == 1 else f"{seconds} seconds"

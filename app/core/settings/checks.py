"""Validators of declared settings: whole numbers in a range, non-empty names, IANA time zones."""
from ..timezones import is_timezone

MAX_NAME = 200


def whole_number(low: int, high: int, unit: str = ""):
    """A ``SettingSpec.validate`` for an int setting: ``low`` <= value <= ``high``, else
    ValueError saying the range (``unit``, e.g. "minutes", is named in the message)."""
    suffix = f" {unit}" if unit else ""

    def check(value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("Must be a whole number.")
        if not low <= value <= high:
            raise ValueError(f"Must be between {low:,} and {high:,}{suffix}.")
        return value
    return check


def positive_count(high: int, unit: str = ""):
    """A count of at least 1 (attempts, days): ``whole_number(1, high)``."""
    return whole_number(1, high, unit)


def non_empty_name(value):
    """A one-line name of 1 to MAX_NAME characters, trimmed; ValueError otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("Cannot be empty.")
    value = " ".join(value.split())
    if len(value) > MAX_NAME:
        raise ValueError(f"At most {MAX_NAME} characters.")
    return value


def timezone_name(value):
    """An IANA time zone name such as Europe/Amsterdam; ValueError otherwise."""
    if not is_timezone(value):
        raise ValueError(f"{str(value)[:64]!r} is not a known time zone; use an IANA name such as "
                         "Europe/Amsterdam.")
    return value


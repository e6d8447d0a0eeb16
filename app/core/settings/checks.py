"""Validators of declared settings: whole numbers in a range, non-empty names, IANA time zones."""
from ..inputs import whole_number
from ..timezones import is_timezone

MAX_NAME = 200


def number_range(low: int, high: int):
    """A ``SettingSpec.validate`` for an int setting: ``low`` <= value <= ``high`` (the one
    whole-number check of ``core.inputs``), else ValueError saying the range."""
    def check(value):
        return whole_number(value, "The value", low, high)
    return check


def positive_count(high: int):
    """A count of at least 1 (attempts, days): ``number_range(1, high)``."""
    return number_range(1, high)


def non_empty_name(value):
    """A one-line name of 1 to MAX_NAME characters, spaces trimmed and collapsed; ValueError otherwise."""
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

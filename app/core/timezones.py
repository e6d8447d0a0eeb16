"""Time zones for broadcasts: the IANA names, and converting wall-clock times to naive UTC and back."""
from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from .settings.services import get_option


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """Every IANA time zone name known to this machine, sorted, UTC first."""
    names = sorted(n for n in available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV/")))
    return ("UTC", *names)


def is_timezone(name: str) -> bool:
    """True when ``name`` is a known IANA zone (False for anything that is not text)."""
    return isinstance(name, str) and name in timezone_names()


def check_timezone(value) -> str:
    """``value`` when it is an IANA zone name such as Europe/Amsterdam, else ValueError with a
    message (the validator of time-zone settings)."""
    if not is_timezone(value):
        raise ValueError(f"{str(value)[:64]!r} is not a known time zone; use an IANA name such as "
                         "Europe/Amsterdam.")
    return value


def default_timezone() -> str:
    """The network's default zone for broadcasts (setting ``broadcasts.timezone``)."""
    name = get_option("broadcasts.timezone") or "UTC"
    return name if is_timezone(name) else "UTC"


def local_to_utc(local: datetime, zone: str) -> datetime:
    """A naive wall-clock time in ``zone`` as naive UTC.

    Raises ValueError for a time out of range or skipped by a daylight-saving change (e.g. 02:30 when clocks
    jump to 03:00); an ambiguous time (clocks going back) is the first of the two.
    """
    tz = ZoneInfo(zone)
    aware = local.replace(tzinfo=tz, fold=0)
    try:
        back = aware.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None)
    except OverflowError:
        raise ValueError(f"{local:%Y-%m-%d %H:%M} in {zone} is out of range: in UTC it falls outside the "
                         "years 1 to 9999.") from None
    if back != local:
        raise ValueError(f"{local:%Y-%m-%d %H:%M} does not exist in {zone} (the clocks skip it "
                         "for daylight saving time); choose another time.")
    return aware.astimezone(timezone.utc).replace(tzinfo=None)


def utc_to_local(value: datetime | None, zone: str) -> datetime | None:
    """A naive UTC time as naive wall-clock time in ``zone`` (None stays None)."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def parse_api_datetime(value: str, zone: str) -> datetime:
    """An ISO 8601 date-time from the API as naive UTC; without an offset it is read in ``zone``.

    ValueError with a message for anything else: not text, not ISO 8601, an unknown zone, or a
    time whose UTC equivalent falls outside the years 1-9999."""
    example = "(e.g. 2030-01-31T09:00)"
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError(f"Must be an ISO 8601 date and time as text {example}.")
    if not is_timezone(zone):
        raise ValueError(f"{str(zone)[:64]!r} is not a known time zone (use a name like Europe/Amsterdam).")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            return local_to_utc(parsed, zone)
        return parsed.astimezone(timezone.utc).replace(tzinfo=None)
    except OverflowError:
        raise ValueError(f"{value!r} is out of range (years 1 to 9999).") from None
    except ValueError as error:
        if "does not exist" in str(error) or "out of range" in str(error):
            raise
        raise ValueError(f"{value!r} is not an ISO 8601 date and time {example}.") from None

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
    """True when ``name`` is a known IANA zone."""
    return name in timezone_names()


def default_timezone() -> str:
    """The network's default zone for broadcasts (setting ``broadcasts.timezone``)."""
    name = get_option("broadcasts.timezone") or "UTC"
    return name if is_timezone(name) else "UTC"


def local_to_utc(local: datetime, zone: str) -> datetime:
    """A naive wall-clock time in ``zone`` as naive UTC.

    Raises ValueError for a time skipped by a daylight-saving change (e.g. 02:30 when clocks
    jump to 03:00); an ambiguous time (clocks going back) is the first of the two.
    """
    tz = ZoneInfo(zone)
    aware = local.replace(tzinfo=tz, fold=0)
    back = aware.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None)
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
    """An ISO 8601 date-time from the API as naive UTC; without an offset it is read in ``zone``."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date and time (e.g. 2030-01-31T09:00).") from None
    if parsed.tzinfo is None:
        return local_to_utc(parsed, zone)
    return parsed.astimezone(timezone.utc).replace(tzinfo=None)

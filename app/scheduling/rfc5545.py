"""Reading pasted RFC 5545 recurrence text (DTSTART, RRULE, RDATE, EXDATE lines) strictly."""
import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .bounds import RuleError
from .rrule_parts import Stamp, check_rrule

MAX_TEXT = 20_000  # characters of pasted text
MAX_RRULES = 10
MAX_DATES = 1_000  # RDATE and EXDATE values together
DATE_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$")
OFFSET = re.compile(r"^\d{8}T\d{6}[+-]\d{2}:?\d{2}$")
FIELD = "rrule_text"


@dataclass
class RuleText:
    """The parsed text: at most one DTSTART, RRULE values (UNTIL apart), RDATE and EXDATE stamps."""
    dtstart: Stamp | None = None
    rrules: list = field(default_factory=list)  # (parts without UNTIL: dict, until: Stamp | None)
    rdates: list = field(default_factory=list)
    exdates: list = field(default_factory=list)


def unfold(text: str) -> list[str]:
    """Content lines of ``text`` (RFC 5545 3.1): a line starting with a space or tab continues
    the previous one; blank lines are dropped. Raises RuleError for text over MAX_TEXT."""
    if len(text) > MAX_TEXT:
        raise RuleError(f"The rule text is longer than {MAX_TEXT:,} characters.", FIELD)
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines and raw.strip():
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw.strip())
    return lines


def parse_text(text: str) -> RuleText:
    """Parse pasted recurrence text into a RuleText; RuleError (field "rrule_text") names the line.

    Accepted lines: ``DTSTART`` (3.8.2.4), ``RRULE`` (3.8.5.3, also a bare ``FREQ=…`` line),
    ``RDATE`` (3.8.5.2) and ``EXDATE`` (3.8.5.1), each with the DATE-TIME forms of 3.3.5 and a
    TZID parameter (3.2.19) naming an IANA zone. Several RRULE, RDATE and EXDATE lines combine
    as the RFC's recurrence set. EXRULE (RFC 2445 only), VALUE=DATE, VALUE=PERIOD, UTC offsets
    and other properties are refused with a message.
    """
    result, dates = RuleText(), 0
    for line in unfold(text):
        name, params, value = _split(line)
        if name == "RRULE":
            _no_params(name, params)
            if len(result.rrules) >= MAX_RRULES:
                raise RuleError(f"At most {MAX_RRULES} RRULE lines are allowed.", FIELD)
            result.rrules.append(check_rrule(value))
        elif name == "DTSTART":
            if result.dtstart is not None:
                raise RuleError("DTSTART appears twice; give one first date and time "
                                "(RFC 5545 3.8.2.4).", FIELD)
            (result.dtstart,) = _stamps(name, params, value, single=True)
        elif name in ("RDATE", "EXDATE"):
            stamps = _stamps(name, params, value)
            dates += len(stamps)
            if dates > MAX_DATES:
                raise RuleError(f"At most {MAX_DATES:,} RDATE and EXDATE values are allowed.", FIELD)
            (result.rdates if name == "RDATE" else result.exdates).extend(stamps)
        elif name == "EXRULE":
            raise RuleError("EXRULE was removed in RFC 5545 (it is only in RFC 2445); "
                            "list the dates to leave out on an EXDATE line.", FIELD)
        else:
            raise RuleError(f"{name} is not understood here: give DTSTART, RRULE, RDATE and "
                            "EXDATE lines only.", FIELD)
    if not result.rrules and not result.rdates:
        raise RuleError("Give an RRULE line (such as FREQ=MONTHLY;BYDAY=2TU) or RDATE lines.", FIELD)
    _check_until_forms(result)
    return result


def _check_until_forms(result: RuleText) -> None:
    """RFC 5545 3.3.10: with a DTSTART in UTC or with a TZID, UNTIL MUST be in UTC; a floating
    UNTIL would be read in an unknown zone, so it is refused rather than guessed."""
    if result.dtstart is None or result.dtstart.form not in ("utc", "tzid"):
        return
    for _parts, until in result.rrules:
        if until is not None and until.form == "floating":
            raise RuleError(f"UNTIL={until.wall:%Y%m%dT%H%M%S} has no Z, but DTSTART is in "
                            f"{'UTC' if result.dtstart.form == 'utc' else result.dtstart.zone}: RFC 5545 "
                            f"3.3.10 requires UNTIL in UTC then (write UNTIL={until.wall:%Y%m%dT%H%M%S}Z).",
                            FIELD)


def _split(line: str) -> tuple[str, list[str], str]:
    """(NAME, [PARAM=VALUE, …], value) of a content line (3.1); a bare rule is an RRULE."""
    if ":" not in line:
        return "RRULE", [], line
    head, value = line.split(":", 1)
    name, *params = head.split(";")
    return name.strip().upper(), [p.strip() for p in params if p.strip()], value.strip()


def _no_params(name: str, params: list[str]) -> None:
    extra = [p for p in params if not p.upper().startswith("X-")]
    if extra:
        raise RuleError(f"{name} takes no parameter here ({';'.join(extra)}).", FIELD)


def _stamps(name: str, params: list[str], value: str, single=False) -> list[Stamp]:
    """The DATE-TIME values of a DTSTART/RDATE/EXDATE line, comma separated (3.3.5)."""
    zone = None
    for param in params:
        key, _, raw = param.partition("=")
        key, raw = key.strip().upper(), raw.strip().strip('"')
        if key == "TZID":
            zone = iana_zone(raw, name)
        elif key == "VALUE" and raw.upper() == "DATE-TIME":
            continue
        elif key == "VALUE" and raw.upper() in ("DATE", "PERIOD"):
            raise RuleError(f"{name};VALUE={raw.upper()} gives no single time of day to send at; "
                            "write date-times such as 20300105T090000 (RFC 5545 3.3.5).", FIELD)
        elif not key.startswith("X-"):
            raise RuleError(f"{name} parameter {param} is not understood (only TZID).", FIELD)
    values = [v.strip() for v in value.split(",")]
    if single and len(values) != 1:
        raise RuleError(f"{name} takes exactly one date and time.", FIELD)
    return [stamp(v, name, zone) for v in values]


def stamp(text: str, name: str, zone: str | None = None) -> Stamp:
    """One DATE-TIME value as a Stamp; RuleError naming ``name`` when it is not 3.3.5's form.

    A DATE alone (3.3.4) is refused for DTSTART/RDATE/EXDATE (no time of day); UNTIL reads it
    itself. A UTC offset such as -0800 is refused: 3.3.5 says it MUST NOT be used.
    """
    if OFFSET.match(text):
        raise RuleError(f"{name} {text}: a UTC offset is not allowed (RFC 5545 3.3.5); write the "
                        "time in UTC with Z, or give TZID=Area/City.", FIELD)
    match = DATE_TIME.match(text.upper())
    if not match or match.group(4) is None:
        raise RuleError(f"{name} {text!r} is not a date and time such as 20300105T090000, "
                        "20300105T080000Z or TZID=Europe/Amsterdam:20300105T090000.", FIELD)
    try:
        wall = datetime(*(int(g) for g in match.groups()[:6]))
    except ValueError:
        raise RuleError(f"{name} {text}: there is no such date or time.", FIELD) from None
    if match.group(7):
        if zone is not None:
            raise RuleError(f"{name} {text} has both TZID and Z; a UTC time takes no TZID "
                            "(RFC 5545 3.2.19).", FIELD)
        return Stamp(wall, "utc")
    return Stamp(wall, "tzid", zone) if zone else Stamp(wall, "floating")


def iana_zone(name: str, prop: str = "DTSTART") -> str:
    """The IANA zone a TZID names (a leading "/" as in 3.2.19 is dropped, case is forgiven).

    Raises RuleError for names that are not IANA zones (e.g. Windows names): without a
    VTIMEZONE component nothing else can define them.
    """
    key = name.lstrip("/")
    try:
        ZoneInfo(key)
        return key
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        pass
    folded = {z.lower(): z for z in available_timezones()}.get(key.lower())
    if folded:
        return folded
    raise RuleError(f"{prop};TZID={name}: unknown time zone; use an IANA name such as "
                    "Europe/Amsterdam.", FIELD)

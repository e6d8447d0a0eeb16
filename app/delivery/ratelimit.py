"""The network-wide sending rate: exact limits such as "14/s" or "30/min", paced through Redis.

Every worker on every machine reserves send slots from one Lua script that keeps, per limit, the
time of the next free slot (GCRA with no burst). Slots are spaced exactly ``period / count`` apart
on Redis's clock, so "14/s" is 14 messages a second and "30/min" one every two seconds, however
many workers share the limit. A worker reserves up to one second of slots per call.
"""
import logging
import re
import time
from dataclasses import dataclass

from ..core.extensions import redis_store
from ..core.transient import is_transient, rollback_after_failure

log = logging.getLogger(__name__)

UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60,
         "h": 3600, "hr": 3600, "hour": 3600, "d": 86400, "day": 86400}
UNIT_NAMES = {1: "s", 60: "min", 3600: "h", 86400: "day"}
RATE_RE = re.compile(r"^([0-9]{1,12}(?:\.[0-9]{1,6})?)\s*(?:(?:/|per)\s*([a-z]+?)s?)?$")  # ASCII digits
MAX_PER_SECOND = 100_000  # far above what one network sends; slots are paced in whole microseconds
MIN_PER_DAY = 1
RESERVE_HORIZON = 1.0  # seconds of slots one call may reserve
STOP_POLL = 0.1  # seconds between two looks at ``stop()`` while waiting for a slot
RECHECK = 5.0  # seconds between two readings of the settings while waiting for a slot

RESERVE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local start, spacing = now, 0
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat > start then start = tat end
  local interval = tonumber(ARGV[i + 1])
  if interval > spacing then spacing = interval end
end
local tat = start + n * spacing
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
end
return {math.floor(start - now), math.floor(spacing)}
"""


@dataclass(frozen=True)
class Rate:
    """``count`` messages per ``period`` seconds."""
    count: float
    period: int

    @property
    def interval(self) -> float:
        """Seconds between two messages."""
        return self.period / self.count

    def __str__(self):
        """The rate as ``parse_rate`` reads it back: plain decimals, never an exponent (1000000/h)."""
        count = f"{self.count:.6f}".rstrip("0").rstrip(".")
        return f"{count}/{UNIT_NAMES.get(self.period, str(self.period) + 's')}"


def parse_rate(text, default_period: int = 1) -> Rate | None:
    """Parse "14/s", "30/min", "10000/h", "2 per second" or a bare number (per ``default_period``):
    ASCII digits, at most 12 before the point and 6 after, between MIN_PER_DAY a day and
    MAX_PER_SECOND a second.

    Empty means no limit (None). Raises ValueError with a message for anything else, "0" too:
    a rate of zero is no rate (as "0/s" is refused), and no limit is written as an empty field.
    """
    text = (str(text) if text is not None else "").strip().lower()
    if not text:
        return None
    match = RATE_RE.match(text)
    unit = match.group(2) if match else None
    if not match or (unit is not None and unit not in UNITS):
        raise ValueError(f"{text!r} is not a rate: write a number per unit, e.g. 14/s, 30/min "
                         "or 10000/h (empty for no limit).")
    count = float(match.group(1))
    if count <= 0:
        raise ValueError("A rate must be more than zero (leave it empty for no limit).")
    rate = Rate(count, UNITS[unit] if unit else default_period)
    if rate.interval < 1 / MAX_PER_SECOND or rate.interval > 86400 / MIN_PER_DAY:
        raise ValueError(f"{text!r} is out of range: a rate is between {MIN_PER_DAY}/day and "
                         f"{MAX_PER_SECOND:,}/s (leave it empty for no limit).")
    return rate


def rate_validator(default_period: int):
    """A settings validator that normalises a rate string (raising ValueError when invalid)."""
    def validate(value):
        rate = parse_rate(value, default_period)
        return str(rate) if rate else ""
    return validate


class RateLimiter:
    """Paces one worker's sends against the shared limits; ``wait()`` before every message."""

    def __init__(self, rates: dict, current=None):
        """``rates``: {name: Rate or None}; ``current()``, when given, returns them as the settings
        say now, asked every RECHECK seconds of a wait: a changed rate ends a wait it made long."""
        self.current = current
        self.changed = False  # set when ``_reread`` took other rates; the send loop resets it
        self.slots: list[float] = []  # monotonic times of reserved slots, oldest first
        self._configure(rates)
        self.recheck_at = time.monotonic() + RECHECK

    def _reread(self) -> bool:
        """Every RECHECK seconds, take the rates the settings give now; True when they changed
        (reserved slots are then dropped: a lower rate holds from the next message on)."""
        if self.current is None or time.monotonic() < self.recheck_at:
            return False
        self.recheck_at = time.monotonic() + RECHECK
        try:
            rates = {name: rate for name, rate in self.current().items() if rate is not None}
        except Exception as error:
            if not is_transient(error):
                raise
            # The database away: the rates in force hold until it answers (a failure here, in
            # the middle of a batch, would stop the send and cost the record its stop marker).
            log.warning("cannot read the sending rates, keeping %s: %s", self.rates, error)
            rollback_after_failure()
            return False
        if rates == self.rates:
            return False
        self._configure(rates)
        self.changed = True
        return True

    def _configure(self, rates: dict) -> None:
        self.rates = {name: rate for name, rate in rates.items() if rate is not None}
        # The key names the spacing: slots reserved under another rate (one an hour ahead under
        # 1/h) never hold back sends under the new one.
        self.intervals = [str(int(rate.interval * 1_000_000)) for rate in self.rates.values()]
        self.keys = [redis_store.key("delivery", "ratelimit", name, interval)
                     for name, interval in zip(self.rates, self.intervals)]
        self.slots.clear()
        if self.rates:
            self._script = redis_store.client.register_script(RESERVE_SCRIPT)
            self._per_call = max(1, int(RESERVE_HORIZON / max(r.interval for r in self.rates.values())))

    @property
    def active(self) -> bool:
        """True when any limit is set."""
        return bool(self.rates)

    def reserve(self, wanted: int) -> None:
        """Reserve up to ``wanted`` slots (at most a second's worth) from the shared limits."""
        count = max(1, min(wanted, self._per_call))
        offset_us, spacing_us = self._script(keys=self.keys, args=[count, *self.intervals])
        first = time.monotonic() + int(offset_us) / 1_000_000
        spacing = int(spacing_us) / 1_000_000
        self.slots.extend(first + index * spacing for index in range(count))

    @property
    def slots_per_call(self) -> int:
        """Messages in one reservation: a second of sending at the strictest limit, at least 1."""
        return self._per_call if self.rates else 0

    def wait(self, remaining: int = 1, before_sleep=None, stop=None) -> bool:
        """Block until this worker may send its next message (``remaining``: how many are left);
        ``before_sleep()`` is called first when it has to wait (the send loop flushes the message
        in flight, so that its content does not wait a slot for the next envelope). While it
        waits, ``stop()`` is asked every ``STOP_POLL`` seconds at most: when it answers True the
        wait ends at once and ``wait`` returns False (the slot is given up); else True."""
        self._reread()  # a rate set, changed or removed meanwhile
        if not self.rates:
            return True
        if not self.slots:
            self.reserve(remaining)
        slot = self.slots.pop(0)
        if slot > time.monotonic() and before_sleep is not None:
            before_sleep()
        while (left := slot - time.monotonic()) > 0:
            if stop is not None and stop():
                return False
            if self._reread():  # the admin changed the rate: wait by the new one
                return self.wait(remaining, None, stop)
            time.sleep(min(left, STOP_POLL))
        return True

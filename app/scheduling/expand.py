"""Expanding a recurrence set (RRULEs, RDATEs, EXDATEs) in a time zone, within fixed bounds.

A rule is walked by python-dateutil in naive wall-clock time of its zone; each occurrence is
then converted to UTC. The walk is bounded (see ``bounds``): a rule of a fixed-length FREQ
(WEEKLY or finer) without COUNT is restarted a whole number of periods before the cursor, so an
early DTSTART costs nothing, and a Budget caps the months (years for YEARLY) walked, the
occurrences generated and the seconds spent, so a rule that rarely or never matches stops.
"""
import heapq
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, HOURLY, MINUTELY, SECONDLY, WEEKLY, rrule

from .bounds import Budget, ExpansionLimit

LOOKBACK = timedelta(hours=3)  # more than any daylight-saving jump: local and UTC order agree past it
END = datetime(9999, 1, 1)  # occurrences from here on are not served (UTC could overflow)
# Fixed period lengths in naive wall-clock time (months and years have none).
PERIODS = {SECONDLY: timedelta(seconds=1), MINUTELY: timedelta(minutes=1), HOURLY: timedelta(hours=1),
           DAILY: timedelta(days=1), WEEKLY: timedelta(weeks=1)}


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """Local naive wall-clock time in ``tz`` to naive UTC; a time in a spring-forward gap uses
    the offset before the gap, an ambiguous one its first instance (RFC 5545 3.3.5)."""
    return local.replace(tzinfo=tz, fold=0).astimezone(timezone.utc).replace(tzinfo=None)


def to_local(utc: datetime, tz: ZoneInfo) -> datetime:
    """Naive UTC to local naive wall-clock time in ``tz``."""
    return utc.replace(tzinfo=timezone.utc).astimezone(tz).replace(tzinfo=None)


@dataclass
class Recurrence:
    """A recurrence set (RFC 5545 3.8.5): dateutil rules and extra dates in ``zone``'s wall clock.

    ``rules`` are dateutil ``rrule`` objects with naive DTSTART/UNTIL; ``dates`` are RDATEs (and
    the DTSTART of a set without RRULE); ``exdates`` are removed where they match exactly
    (RFC 5545 3.8.5.1). ``field`` is the form field that bound errors are reported on.
    """
    zone: ZoneInfo
    rules: list = field(default_factory=list)
    dates: list = field(default_factory=list)
    exdates: frozenset = frozenset()
    field: str = "rule"

    def after(self, after_utc: datetime, budget: Budget | None = None) -> Iterator[datetime]:
        """Occurrences strictly after ``after_utc`` as naive UTC, soonest first, no duplicates.

        Lazy: take what you need. Raises ExpansionLimit (a RuleError) when a bound is hit
        before the next occurrence is known, ExpansionTimeout past the time bound.
        """
        budget = budget or Budget(field=self.field)
        cursor = to_local(after_utc, self.zone) - LOOKBACK
        streams = [self._walk(rule, cursor, budget) for rule in self.rules]
        streams.append(iter(sorted(self.dates)))
        pending, last = [], None
        try:
            for local in _unique(heapq.merge(*streams)):
                if local >= END:
                    break
                if local < cursor or local in self.exdates:
                    continue
                utc = to_utc(local, self.zone)
                heapq.heappush(pending, utc)
                while pending and pending[0] <= utc - LOOKBACK:
                    last = yield from _emit(heapq.heappop(pending), after_utc, last)
        except ExpansionLimit:
            while pending:  # what was found before the bound is still right
                last = yield from _emit(heapq.heappop(pending), after_utc, last)
            raise
        while pending:
            last = yield from _emit(heapq.heappop(pending), after_utc, last)

    def _walk(self, rule, cursor: datetime, budget: Budget) -> Iterator[datetime]:
        """One dateutil rule's occurrences from about ``cursor`` on, every step counted."""
        start = rule._dtstart
        period = PERIODS.get(rule._freq, timedelta(0)) * rule._interval
        if rule._count is None and period and start < cursor - period:
            start += period * ((cursor - start) // period)  # same phase, whole periods later
        kwargs = {"freq": rule._freq, "dtstart": start, "interval": rule._interval,
                  "wkst": rule._wkst, "count": rule._count, "until": rule._until}
        kwargs.update(rule._original_rule)  # the BY parts as given (as rrule.replace does)
        walked = _CountedRule(**kwargs)
        walked.budget = budget
        for local in walked:
            budget.spend()
            yield local


class _CountedRule(rrule):
    """dateutil's rrule whose walk is counted: dateutil reads ``_byeaster`` each time its walk
    enters a new month (a new year for YEARLY), so a rule whose periods rarely or never match
    (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) is stopped by the Budget instead of running to 9999."""

    budget: Budget | None = None

    @property
    def _byeaster(self):
        if self.budget is not None:
            self.budget.step()
        return self.__dict__.get("_byeaster_value")

    @_byeaster.setter
    def _byeaster(self, value):
        self.__dict__["_byeaster_value"] = value


def _unique(items):
    previous = None
    for item in items:
        if item != previous:
            yield item
        previous = item


def _emit(utc, after_utc, last):
    """Yield ``utc`` when it is after the cursor and new; return the last one yielded."""
    if utc > after_utc and utc != last:
        yield utc
        return utc
    return last

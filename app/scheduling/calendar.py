"""Small month calendars with the days of upcoming occurrences marked, for the planning preview."""
import calendar
from dataclasses import dataclass
from datetime import date


@dataclass
class Month:
    """One month: its title and weeks of (day, in_month, marked) cells."""
    title: str
    weeks: list


def month_calendars(occurrences, months: int = 2) -> list[Month]:
    """Calendars for the first ``months`` months that hold an occurrence (local datetimes)."""
    marked = {o.date() for o in occurrences}
    firsts = sorted({date(d.year, d.month, 1) for d in marked})[:months]
    grid = calendar.Calendar(firstweekday=0)
    result = []
    for first in firsts:
        weeks = [[(day, day.month == first.month, day in marked) for day in week]
                 for week in grid.monthdatescalendar(first.year, first.month)]
        result.append(Month(first.strftime("%B %Y"), weeks))
    return result

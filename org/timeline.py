"""A project's timeline: who held which role on it, from when to when, drawn to scale.

The page draws each assignment as a bar in an inline SVG whose lengths are percentages of the row's width (the
pages' Content-Security-Policy allows no style attributes, and SVG's ``x`` and ``width`` are not styles); the
table around it says the same in words for readers and for screen readers.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils.formats import date_format

from org.models import Assignment

#: A span shorter than this gets month ticks (every third month) rather than year ticks.
MONTHS_UP_TO_DAYS = 3 * 366
#: At most this many year ticks; more years are ticked every second, fifth or tenth.
MOST_TICKS = 12


@dataclass(frozen=True)
class Bar:
    assignment: Assignment
    x: float  # where the bar starts, in percent of the span
    width: float  # in percent of the span, at least a sliver, so a one-day assignment shows
    open_ended: bool  # no end date: the bar runs to the end of the span
    when: str  # "past", "current" or "future", on the page's day


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    bars: list[Bar]
    ticks: list[Tick]
    first: datetime.date
    last: datetime.date
    day_x: float  # the page's day, in percent of the span


def build(
    assignments: Iterable[Assignment],
    *,
    day: datetime.date,
    today: datetime.date,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> Timeline | None:
    """The timeline of ``assignments`` (with their role and employee read), in role order then by start; the span
    runs from the earliest of their starts, ``start`` and ``day`` to the latest of their ends, ``end`` and ``day``,
    where an assignment with no end counts as ending today or on its start, whichever is later. None for no
    assignments."""
    rows = sorted(assignments, key=lambda a: (a.role.name.casefold(), a.start_date, a.pk))
    if not rows:
        return None
    first = min([a.start_date for a in rows] + ([start] if start else []) + [day])
    # An open-ended bar runs to the end of the span: past today, and past its own start.
    ends = [a.end_date or max(a.start_date, today) for a in rows] + ([end] if end else []) + [day]
    last = max(max(ends), first + datetime.timedelta(days=30))
    days = (last - first).days + 1

    def x(date: datetime.date) -> float:
        return round(100 * (date - first).days / days, 3)

    bars = []
    for a in rows:
        stop = a.end_date or last
        width = max(round(100 * ((stop - a.start_date).days + 1) / days, 3), 0.4)
        when = "future" if a.start_date > day else "past" if a.end_date and a.end_date < day else "current"
        bars.append(Bar(a, x(a.start_date), min(width, 100 - x(a.start_date)), a.end_date is None, when))
    return Timeline(bars, _ticks(first, last, x), first, last, x(day))


def _ticks(first: datetime.date, last: datetime.date, x: Callable[[datetime.date], float]) -> list[Tick]:
    """Month ticks (every third month) over a short span, else year ticks, at most ``MOST_TICKS``."""
    if (last - first).days <= MONTHS_UP_TO_DAYS:
        ticks, year, month = [], first.year, first.month
        while True:
            month += 1
            if month > 12:
                year, month = year + 1, 1
            date = datetime.date(year, month, 1)
            if date > last:
                return ticks
            if month % 3 == 1:
                ticks.append(Tick(x(date), date_format(date, "M Y")))
    years = range(first.year + 1, last.year + 1)
    step = next((step for step in (1, 2, 5, 10, 20, 50, 100, 1000) if len(years) / step <= MOST_TICKS), 10000)
    return [Tick(x(datetime.date(year, 1, 1)), str(year)) for year in years if year % step == 0]

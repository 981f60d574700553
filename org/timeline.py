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
from org.tables import collation_key

#: A span up to this long gets month ticks rather than year ticks.
MONTHS_UP_TO_DAYS = 3 * 366
#: At most this many ticks (the track may be 16rem wide); more years are ticked every second, fifth or tenth year,
#: more months every second, third, sixth or twelfth month.
MOST_TICKS = 6
YEAR_STEPS, MONTH_STEPS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000), (1, 2, 3, 6, 12)
#: A tick further right than this (percent of the track) would have its label cut off: a year's, a month's.
LAST_YEAR_TICK, LAST_MONTH_TICK = 92, 85
#: The shortest span drawn, and how far past the last date on record an open-ended bar runs (at least).
MIN_SPAN_DAYS, OPEN_END_DAYS = 30, 7
#: The narrowest bar, in percent of the track: a one-day assignment on a long span still shows.
MIN_WIDTH = 0.4


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
    rows = sorted(assignments, key=lambda a: (collation_key(a.role.name), a.start_date, a.pk))
    if not rows:
        return None
    first = min([a.start_date for a in rows] + ([start] if start else []) + [day])
    ends = [a.end_date or max(a.start_date, today) for a in rows] + ([end] if end else []) + [day]
    last = max(max(ends), _later(first, MIN_SPAN_DAYS))
    if any(a.end_date is None for a in rows):
        # An open-ended bar runs past the last date on record, so it shows as going on, even one starting then.
        last = _later(last, max(OPEN_END_DAYS, (last - first).days // 20))
    days = (last - first).days + 1

    def x(date: datetime.date) -> float:
        return round(100 * (date - first).days / days, 3)

    bars = []
    for a in rows:
        # At least a sliver, and inside the track: a one-day bar at the far end still shows.
        left = min(x(a.start_date), 100 - MIN_WIDTH)
        width = max(100 * (((a.end_date or last) - a.start_date).days + 1) / days, MIN_WIDTH)
        when = "future" if a.start_date > day else "past" if a.end_date and a.end_date < day else "current"
        bars.append(Bar(a, left, round(min(width, 100 - left), 3), a.end_date is None, when))
    return Timeline(bars, _ticks(first, last, x), first, last, x(day))


def _later(date: datetime.date, days: int) -> datetime.date:
    """``date`` and ``days`` more, or the last date there is."""
    return date + datetime.timedelta(days=min(days, (datetime.date.max - date).days))


def _ticks(first: datetime.date, last: datetime.date, x: Callable[[datetime.date], float]) -> list[Tick]:
    """The ticks the track has room for: months over a span of up to three years, else years; at most
    ``MOST_TICKS``, and none so near the right end that its label would run off the track."""
    if (last - first).days > MONTHS_UP_TO_DAYS:
        years = range(first.year + 1, last.year + 1)
        step = next(step for step in YEAR_STEPS if len(years) / step <= MOST_TICKS)
        ticks = [Tick(x(datetime.date(year, 1, 1)), str(year)) for year in years if year % step == 0]
        return [tick for tick in ticks if tick.x <= LAST_YEAR_TICK]
    months = []
    year, month = first.year, first.month
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        if year > datetime.MAXYEAR or (date := datetime.date(year, month, 1)) > last:
            break
        months.append(date)
    step = next(step for step in MONTH_STEPS if len(months) / step <= MOST_TICKS)
    ticks = [Tick(x(date), date_format(date, "M Y")) for date in months if (date.month - 1) % step == 0]
    return [tick for tick in ticks if tick.x <= LAST_MONTH_TICK]

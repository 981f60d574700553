"""The project page's timeline (org.timeline): who held which role on the project, from when to when, to scale."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import translation

from org import timeline, views
from org.models import Assignment, Level
from tests.factories import AssignmentFactory, EmployeeFactory, ProjectFactory, RoleFactory

D = datetime.date


def assignment(role: str, start: datetime.date, end: datetime.date | None, pk: int = 0) -> Assignment:
    """An unsaved assignment with what the timeline reads."""
    made = Assignment(pk=pk, start_date=start, end_date=end, level=Level.RESPONSIBLE)
    made.role = RoleFactory.build(name=role)
    return made


def test_bars_are_placed_to_scale_from_the_first_start_to_the_last_end():
    ended = assignment("Developer", D(2024, 1, 1), D(2024, 12, 31))
    running = assignment("Developer", D(2025, 1, 1), None, pk=1)
    drawn = timeline.build([running, ended], day=D(2025, 6, 1), today=D(2025, 7, 1))
    # The running one has no end: the span runs past today, by a twentieth of it (at least a week).
    on_record = (D(2025, 7, 1) - D(2024, 1, 1)).days
    assert (drawn.first, drawn.last) == (D(2024, 1, 1), D(2025, 7, 1) + datetime.timedelta(days=on_record // 20))
    days = (drawn.last - drawn.first).days + 1
    first, second = drawn.bars
    assert first.assignment is ended and (first.x, first.when, first.open_ended) == (0, "past", False)
    assert first.width == round(100 * 366 / days, 3)
    assert second.x == round(100 * 366 / days, 3) and second.when == "current" and second.open_ended
    assert second.x + second.width == pytest.approx(100, abs=0.01)
    assert drawn.day_x == round(100 * (D(2025, 6, 1) - D(2024, 1, 1)).days / days, 3)


def test_rows_go_by_role_then_start_and_the_span_takes_the_project_dates_and_the_day():
    later = assignment("analyst", D(2025, 3, 1), D(2025, 4, 1))
    earlier = assignment("Analyst", D(2025, 2, 1), D(2025, 2, 1), pk=1)
    other = assignment("Developer", D(2025, 1, 1), D(2025, 2, 1), pk=2)
    drawn = timeline.build(
        [other, later, earlier], day=D(2026, 1, 1), today=D(2025, 5, 1), start=D(2024, 12, 1), end=D(2025, 6, 30)
    )
    assert [bar.assignment for bar in drawn.bars] == [earlier, later, other]
    assert (drawn.first, drawn.last) == (D(2024, 12, 1), D(2026, 1, 1))
    days = (D(2026, 1, 1) - D(2024, 12, 1)).days + 1
    assert drawn.day_x == round(100 * (days - 1) / days, 3)  # the start of the last day
    assert drawn.bars[0].width > 0  # one day still shows


def test_an_open_assignment_starting_after_everything_else_still_shows_going_on():
    rows = [assignment("Developer", D(2020, 1, 1), D(2021, 1, 1)), assignment("Advisor", D(2030, 5, 1), None, pk=1)]
    drawn = timeline.build(rows, day=D(2026, 1, 1), today=D(2026, 1, 1))
    advisor = drawn.bars[0]
    assert advisor.when == "future" and advisor.open_ended
    assert drawn.last > D(2030, 5, 1) and advisor.width > 2 * timeline.MIN_WIDTH
    assert advisor.x + advisor.width == pytest.approx(100, abs=0.01)


@pytest.mark.parametrize(
    ("rows", "day"),
    [
        ([(D(9999, 12, 20), D(9999, 12, 31)), (D(9999, 12, 31), D(9999, 12, 31))], D(9999, 12, 15)),
        ([(D(9999, 12, 30), None)], D(9999, 12, 31)),
        ([(D(9999, 6, 1), D(9999, 12, 31))], D(9999, 7, 1)),
        ([(D(1, 1, 1), D(1, 1, 1)), (D(9999, 12, 31), None)], D(2025, 1, 1)),
        ([(D(2020, 1, 1), D(2020, 1, 1)), (D(2025, 1, 1), D(2025, 1, 1))], D(1, 1, 1)),
    ],
)
def test_every_bar_shows_inside_the_track_whatever_the_dates(rows, day):
    drawn = timeline.build(
        [assignment("X", start, end, pk=pk) for pk, (start, end) in enumerate(rows)], day=day, today=D(2026, 1, 1)
    )
    for bar in drawn.bars:
        assert bar.width >= timeline.MIN_WIDTH and bar.x >= 0 and bar.x + bar.width <= 100.001, bar
    assert 0 <= drawn.day_x <= 100
    assert len(drawn.ticks) <= timeline.MOST_TICKS


@translation.override("en")
@pytest.mark.parametrize(
    ("start", "end", "labels"),
    [
        (D(2025, 1, 15), D(2025, 4, 20), ["Feb 2025", "Mar 2025", "Apr 2025"]),
        (D(2025, 1, 15), D(2025, 12, 1), ["Mar 2025", "May 2025", "Jul 2025", "Sep 2025"]),
        (D(2023, 1, 15), D(2025, 12, 1), ["Jul 2023", "Jan 2024", "Jul 2024", "Jan 2025"]),  # Jul 2025: no room
    ],
)
def test_month_ticks_thin_out_to_what_the_track_holds(start, end, labels):
    drawn = timeline.build([assignment("X", start, end)], day=start, today=start)
    assert [tick.label for tick in drawn.ticks] == labels


def test_year_ticks_spread_over_a_long_span():
    long = timeline.build([assignment("X", D(1990, 1, 15), D(2025, 12, 1))], day=D(2025, 6, 1), today=D(2025, 6, 1))
    assert [tick.label for tick in long.ticks] == [str(year) for year in range(2000, 2025, 10)]
    assert all(0 <= tick.x <= timeline.LAST_YEAR_TICK for tick in long.ticks)
    ages = timeline.build([assignment("X", D(1, 1, 1), D(9999, 12, 31))], day=D(2025, 6, 1), today=D(2025, 6, 1))
    assert 0 < len(ages.ticks) <= timeline.MOST_TICKS


def test_no_assignments_no_timeline():
    assert timeline.build([], day=D(2025, 1, 1), today=D(2025, 1, 1)) is None


@pytest.fixture
def project(db):
    project = ProjectFactory(code="TL")
    manager = RoleFactory(name="Project Manager", single_holder=True)
    developer = RoleFactory(name="Developer")
    today = datetime.date.today()
    for name, role, level, start, end in [
        (
            "Past Manager",
            manager,
            Level.ACCOUNTABLE,
            today - datetime.timedelta(days=400),
            today - datetime.timedelta(days=10),
        ),
        ("Now Manager", manager, Level.ACCOUNTABLE, today - datetime.timedelta(days=9), None),
        ("Dev Now", developer, Level.RESPONSIBLE, today - datetime.timedelta(days=100), None),
        ("Dev Later", developer, Level.RESPONSIBLE, today + datetime.timedelta(days=30), None),
    ]:
        first, last = name.split()
        AssignmentFactory(
            employee=EmployeeFactory(first_name=first, last_name=last),
            project=project,
            role=role,
            level=level,
            start_date=start,
            end_date=end,
        )
    return project


def test_the_project_page_draws_every_assignment_past_current_and_future(hr_client, project):
    response = hr_client.get(reverse("org:project", args=[project.code]))
    drawn = response.context["timeline"]["drawn"]
    assert [(str(bar.assignment.employee), bar.when) for bar in drawn.bars] == [
        ("Dev Now", "current"),
        ("Dev Later", "future"),
        ("Past Manager", "past"),
        ("Now Manager", "current"),
    ]
    page = response.content.decode()
    assert page.count('<rect class="bar level-') == 4
    assert f'href="{reverse("org:employee", args=[drawn.bars[1].assignment.employee.employee_number])}"' in page


def test_a_long_history_draws_the_accountable_and_single_holder_roles_only(hr_client, project, monkeypatch):
    """Its query is pinned with the page's others in tests/test_pages_queries.py."""
    monkeypatch.setattr(views, "WHOLE_HISTORY_ROWS", 2)
    response = hr_client.get(reverse("org:project", args=[project.code]))
    drawn = response.context["timeline"]["drawn"]
    assert [str(bar.assignment.employee) for bar in drawn.bars] == ["Past Manager", "Now Manager"]
    assert "the timeline shows those of its Accountable and single-holder roles only" in response.content.decode()


def test_a_project_nobody_ever_held_a_role_on_says_so(hr_client, db):
    project = ProjectFactory(code="EMPTY")
    response = hr_client.get(reverse("org:project", args=[project.code]))
    assert response.context["timeline"]["drawn"] is None
    assert "Nobody has held a role on this project." in response.content.decode()


def test_the_bars_are_drawn_in_every_language(hr_client, project):
    """SVG lengths are numbers with a point: the Spanish page formats numbers with a comma, never these."""
    hr_client.cookies["django_language"] = "es"
    page = hr_client.get(reverse("org:project", args=[project.code])).content.decode()
    assert "Cronología" in page
    lengths = re.findall(r' (?:x|width|x1|x2)="([^"]*)%"', page)
    assert len(lengths) >= 4 * 4
    assert all(re.fullmatch(r"\d+(\.\d+)?", length) for length in lengths), lengths


def test_a_long_history_with_no_key_role_says_so_rather_than_nobody(hr_client, monkeypatch, db):
    project = ProjectFactory(code="BIG")
    developer = RoleFactory(name="Developer")
    for _ in range(3):
        AssignmentFactory(project=project, role=developer, level=Level.RESPONSIBLE, start_date=D(2025, 1, 1))
    monkeypatch.setattr(views, "WHOLE_HISTORY_ROWS", 2)
    page = hr_client.get(reverse("org:project", args=[project.code])).content.decode()
    assert "none of them in an Accountable or single-holder role" in page
    assert "Nobody has held a role on this project." not in page

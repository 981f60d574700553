"""The company generator: exact sizes, an audit trail, no silent overwrite, and every rule of org.services.

The rules are verified here from what the database holds, with plain Python over ``values()``, not with the
generator's own check (which gets a test of its own at the end).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from io import StringIO
from itertools import pairwise
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from org.management.commands.generate_company import violations
from org.models import Assignment, Department, Employee, Level, Project, Role
from org.selectors import projects_without_accountable

SIZE = {"employees": 200, "projects": 20, "assignments": 2000, "departments": 8}
AS_OF = datetime.date(2025, 6, 30)
ORG_MODELS = (Assignment, Project, Employee, Role, Department)


def generate(**options: Any) -> str:
    out = StringIO()
    call_command("generate_company", stdout=out, **{"seed": 7, "as_of": AS_OF, **SIZE, **options})
    return out.getvalue()


def row_counts() -> dict[str, int]:
    counts = {model.__name__: model.objects.count() for model in ORG_MODELS}
    counts |= {f"Historical{model.__name__}": model.history.count() for model in ORG_MODELS}
    return counts


def company() -> list[tuple]:
    """The generated data by natural keys, so two runs compare whatever ids they got."""
    people = list(
        Employee.objects.values_list("employee_number", "work_email", "manager__employee_number", "leave_date")
    )
    work = Assignment.objects.values_list(
        "employee__employee_number",
        "role__name",
        "department__code",
        "project__code",
        "level",
        "start_date",
        "end_date",
    )
    return sorted(people, key=str) + sorted(work, key=str)


def assert_apart(groups: dict[Any, list[dict]], rule: str) -> None:
    """Within each group, no two assignments share a day (an empty end date runs forever)."""
    for key, rows in groups.items():
        rows.sort(key=lambda row: row["start_date"])
        for earlier, later in pairwise(rows):
            assert earlier["end_date"] is not None and earlier["end_date"] < later["start_date"], (rule, key, earlier)


def in_force(rows: Iterable[dict], day: datetime.date) -> list[dict]:
    return [r for r in rows if r["start_date"] <= day and (r["end_date"] is None or r["end_date"] >= day)]


@pytest.mark.django_db
def test_it_creates_exactly_the_sizes_asked_with_a_history_record_for_every_row():
    output = generate()

    counts = row_counts()
    assert counts["Employee"] == 200
    assert counts["Project"] == 20
    assert counts["Assignment"] == 2000
    assert counts["Department"] == 8
    assert set(Role.objects.values_list("name", flat=True)) >= {"Project Manager", "Head of Department", "Sponsor"}
    for model in ORG_MODELS:
        created = model.history.filter(history_type="+")
        assert set(created.values_list("id", flat=True)) == set(model.objects.values_list("id", flat=True)), model
        assert created.count() == model.objects.count(), model
    assert "2000 assignments" in output


@pytest.mark.django_db
def test_it_refuses_a_database_that_already_has_a_company_and_changes_nothing():
    generate()
    before, people_before = row_counts(), company()

    with pytest.raises(CommandError, match="--replace"):
        generate(seed=8)

    assert row_counts() == before
    assert company() == people_before


@pytest.mark.django_db
def test_replace_starts_over_and_the_same_seed_gives_the_same_company():
    generate()
    first = company()

    generate(replace=True)

    assert company() == first
    assert Assignment.history.count() == 2000  # the old history went with the old rows
    generate(replace=True, seed=8)
    assert company() != first


@pytest.mark.django_db
def test_it_refuses_more_assignments_than_the_company_can_hold_and_writes_nothing():
    with pytest.raises(CommandError, match="Could not fit"):
        generate(employees=2, projects=1, departments=1, assignments=500)

    assert not any(row_counts().values())


@pytest.mark.django_db
def test_every_rule_of_the_services_holds_in_the_database():
    generate()
    roles = {role.pk: role for role in Role.objects.all()}
    people = {row["id"]: row for row in Employee.objects.values("id", "manager_id", "hire_date", "leave_date")}
    fields = ("id", "employee_id", "role_id", "department_id", "project_id", "level", "start_date", "end_date")
    rows = list(Assignment.objects.values(*fields, "allocation"))

    accountable, single, own = defaultdict(list), defaultdict(list), defaultdict(list)
    for row in rows:
        role, person = roles[row["role_id"]], people[row["employee_id"]]
        target = (row["department_id"], row["project_id"])
        assert (row["department_id"] is None) != (row["project_id"] is None), row
        assert role.applies_to in ("both", "department" if row["department_id"] else "project"), row
        assert row["end_date"] is None or row["end_date"] >= row["start_date"], row
        assert row["allocation"] is None or 0 <= row["allocation"] <= 100, row
        assert row["level"] in Level.values, row
        if person["leave_date"] is not None:
            assert row["start_date"] <= person["leave_date"], row
            assert row["end_date"] is not None and row["end_date"] <= person["leave_date"], row
        if row["level"] == Level.ACCOUNTABLE:
            accountable[target].append(row)
        if role.single_holder:
            single[target, role.pk].append(row)
        own[row["employee_id"], role.pk, target].append(row)
    assert_apart(accountable, "one Accountable per target")
    assert_apart(single, "one holder of a single-holder role")
    assert_apart(own, "no assignment overlaps itself")

    for pk in people:  # managers form a tree: walking up always ends, never meeting the start again
        seen, node = set(), people[pk]["manager_id"]
        while node is not None:
            assert node != pk and node not in seen, f"manager cycle through employee {pk}"
            seen.add(node)
            node = people[node]["manager_id"]

    today = in_force(rows, AS_OF)
    assert today and any(r["end_date"] and r["end_date"] < AS_OF for r in rows)
    assert any(r["start_date"] > AS_OF for r in rows)
    assert any(p["leave_date"] for p in people.values())
    running_unled = projects_without_accountable(as_of=AS_OF).count()
    running = Project.objects.filter(status="active").count()
    assert 1 <= running_unled < running  # a few, not most


def test_the_generators_own_check_catches_two_overlapping_accountables():
    # Unsaved objects with ids: the check runs in memory, before anything is written.
    department = Department(pk=1, code="D1", name="Finance")
    head = Role(pk=1, name="Head of Department", applies_to="department", default_level="A", single_holder=True)
    ana, bob = (Employee(pk=i, first_name=n, last_name="X", employee_number=n) for i, n in ((1, "Ana"), (2, "Bob")))
    common = {"role": head, "department": department, "level": Level.ACCOUNTABLE}
    first = Assignment(employee=ana, start_date=datetime.date(2024, 1, 1), end_date=None, **common)
    second = Assignment(employee=bob, start_date=datetime.date(2025, 1, 1), end_date=None, **common)

    problems = violations([first, second])

    assert any("Only one Accountable" in p for p in problems)
    assert any("single holder" in p for p in problems)
    assert violations([first]) == []

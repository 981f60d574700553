"""The change history on the project, department and employee pages: who changed what, when, from what to what.

Who sees it is in tests/test_access.py (the persona matrix); here, what it shows and what it costs.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from org import services
from org.models import Level
from tests.factories import DepartmentFactory, EmployeeFactory

D = datetime.date
pytestmark = pytest.mark.django_db


def changed_by(user, obj, **fields):
    """Change ``obj``'s fields as ``user`` would through the admin (simple-history records ``_history_user``)."""
    for name, value in fields.items():
        setattr(obj, name, value)
    obj._history_user = user
    obj.save()
    return obj


def history(response) -> list:
    assert response.status_code == 200
    return response.context["history"]["changes"]


def test_a_project_change_shows_who_when_and_each_field_from_what_to_what(hr_client, hr_admin, project):
    sales = DepartmentFactory(code="SAL", name="Sales")
    old_department = project.department
    changed_by(hr_admin, project, name="ERP 2", department=sales, status="on_hold")
    response = hr_client.get(reverse("org:project", args=[project.code]))
    newest, created = history(response)
    assert (newest.kind, created.kind) == ("~", "+")
    assert newest.who == "hr-admin"
    assert {(f.label, f.old, f.new) for f in newest.fields} == {
        ("Name", "ERP migration", "ERP 2"),
        ("Owning department", str(old_department), "Sales (SAL)"),
        ("Status", "Active", "On hold"),
    }
    html = response.content.decode()
    assert '<span class="muted">Name:</span> <del>ERP migration</del> → <ins>ERP 2</ins>' in html
    assert created.who == ""  # made by a factory: nobody signed in
    assert "not recorded" in html


def test_a_created_assignment_lists_its_values_and_the_project_page_shows_it(
    hr_client, hr_admin, project, ana, manager_role
):
    services.assignment_create(
        employee=ana, role=manager_role, target=project, start_date=D(2025, 3, 1), allocation=40, note="Kick-off"
    )
    created = history(hr_client.get(reverse("org:project", args=[project.code])))[0]
    assert created.kind == "+"
    assert created.subject == f"Ana García — Project Manager (Accountable) on {project}"
    values = {f.label: f.new for f in created.fields}
    assert values["Employee"] == "Ana García"
    assert values["RACI level"] == "Accountable"
    assert values["Allocation %"] == "40"
    assert values["Note"] == "Kick-off"
    assert "End date" not in values  # empty values are left out of a creation


def test_a_handover_is_on_both_peoples_pages_with_its_reason(hr_client, project, ana, bob, manager_role):
    services.assignment_create(employee=ana, role=manager_role, target=project, start_date=D(2024, 1, 1))
    services.employee_hand_over(leaver=ana, successor=bob, on_date=D(2025, 1, 1))

    ended = history(hr_client.get(reverse("org:employee", args=[ana.employee_number])))[0]
    assert ended.kind == "~"
    assert ended.reason == "Handed over to Bob Smith (E2) from 2025-01-01"
    assert [(f.label, f.old, f.new) for f in ended.fields] == [("End date", "", "Dec. 31, 2024")]

    taken = history(hr_client.get(reverse("org:employee", args=[bob.employee_number])))[0]
    assert (taken.kind, taken.reason) == ("+", "Taken over from Ana García (E1) on 2025-01-01")

    on_project = history(hr_client.get(reverse("org:project", args=[project.code])))
    assert [change.reason for change in on_project[:2]] == [taken.reason, ended.reason]


def test_an_assignment_handed_over_before_it_starts_stays_on_the_first_holders_page(
    hr_client, project, ana, bob, manager_role
):
    services.assignment_create(employee=ana, role=manager_role, target=project, start_date=D(2030, 1, 1))
    services.employee_hand_over(leaver=ana, successor=bob, on_date=D(2025, 1, 1))
    moved = history(hr_client.get(reverse("org:employee", args=[ana.employee_number])))[0]
    assert moved.reason.startswith("Handed over to Bob Smith")
    assert [(f.label, f.old, f.new) for f in moved.fields] == [("Employee", "Ana García", "Bob Smith")]


def test_leaving_and_changing_level_say_why(hr_client, department, ana, sponsor_role):
    assignment = services.assignment_create(
        employee=ana, role=sponsor_role, target=department, start_date=D(2024, 1, 1), level=Level.RESPONSIBLE
    )
    services.assignment_change_level(assignment=assignment, level=Level.CONSULTED, on_date=D(2024, 6, 1))
    services.employee_mark_left(employee=ana, leave_date=D(2025, 1, 31))
    reasons = [change.reason for change in history(hr_client.get(reverse("org:department", args=["FIN"])))]
    assert reasons[0] == "Ended: Ana García left on 2025-01-31"
    assert reasons.count("Level changed to Consulted from 2024-06-01") == 2  # the old one ended, the new one


def test_the_history_pages_back_to_older_changes(hr_client, hr_admin, department):
    for number in range(24):
        changed_by(hr_admin, department, name=f"Finance {number}")
    url = reverse("org:department", args=["FIN"])
    first = hr_client.get(url)
    assert len(history(first)) == 20 and first.context["history"]["has_older"]
    assert "history_page=2" in first.content.decode()
    second = hr_client.get(url + "?history_page=2")
    changes = history(second)
    assert [c.kind for c in changes] == ["~"] * 4 + ["+"]
    assert [(f.old, f.new) for f in changes[0].fields] == [("Finance 2", "Finance 3")]
    assert not second.context["history"]["has_older"] and "history_page=1" in second.content.decode()


@pytest.mark.parametrize("asked", ["99", "x", "-1"])
def test_a_history_page_that_is_not_there_is_a_message(hr_client, department, asked):
    response = hr_client.get(reverse("org:department", args=["FIN"]) + f"?history_page={asked}")
    assert response.status_code == 200
    assert response.context["history"]["number"] == 1
    assert response.context["problems"]


def test_a_viewer_sees_no_history(viewer_client, department):
    response = viewer_client.get(reverse("org:department", args=["FIN"]))
    assert response.context["history"] is None
    assert "Change history" not in response.content.decode()


def _busy_project(project, hr_admin, people: int, roles) -> None:
    """``people`` assignments on ``project``, each changed twice, and the project itself changed ``people`` times."""
    for number in range(people):
        assignment = services.assignment_create(
            employee=EmployeeFactory(), role=roles[number % len(roles)], target=project, start_date=D(2024, 1, 1)
        )
        changed_by(hr_admin, assignment, allocation=10)
        changed_by(hr_admin, assignment, note=f"note {number}")
        changed_by(hr_admin, project, description=f"step {number}")


@pytest.mark.parametrize("people", [2, 30])
def test_the_history_costs_the_same_queries_however_long_it_is(hr_client, hr_admin, project, developer_role, people):
    _busy_project(project, hr_admin, people, [developer_role])
    url = reverse("org:project", args=[project.code])
    hr_client.get(url)  # anything remembered out of the count
    with CaptureQueriesContext(connection) as queries:
        response = hr_client.get(url)
    assert len(history(response)) == (20 if people == 30 else 2 * 4 + 1)
    # The page's own 5 (tests/test_pages_queries.py) + the history: its page of ids, then the rows and their
    # predecessors of each of its two tables (the project's, the assignments').
    assert len(queries) == 5 + 5, [q["sql"] for q in queries]


def test_history_rows_of_assignments_no_longer_on_the_project_stay(hr_client, hr_admin, project, ana, manager_role):
    assignment = services.assignment_create(employee=ana, role=manager_role, target=project, start_date=D(2024, 1, 1))
    other = DepartmentFactory(code="OPS")
    changed_by(hr_admin, assignment, project=None, department=other)
    subjects = [change.subject for change in history(hr_client.get(reverse("org:project", args=[project.code])))]
    assert subjects[0].endswith(f"on {other}")
    assert any(subject.endswith(f"on {project}") for subject in subjects)

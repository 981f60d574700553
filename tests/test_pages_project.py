"""The project page: RACI matrix as of a date, team with allocation, timeline of past assignments."""

from __future__ import annotations

import csv
import datetime
import io

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from org import services
from org.models import Level
from tests.factories import AssignmentFactory, DepartmentFactory, EmployeeFactory, ProjectFactory

D = datetime.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def erp(project, ana, bob, carla, manager_role, developer_role, sponsor_role):
    """ERP: Ana is Project Manager (A) until Bob takes over on 2025-01-01; Carla develops (R) and is Sponsor (C)."""
    services.assignment_create(employee=ana, role=manager_role, target=project, start_date=D(2024, 1, 1), allocation=40)
    services.assignment_create(
        employee=carla, role=developer_role, target=project, start_date=D(2024, 1, 1), allocation=60
    )
    services.assignment_create(
        employee=carla, role=sponsor_role, target=project, start_date=D(2024, 6, 1), level=Level.CONSULTED
    )
    services.employee_hand_over(leaver=ana, successor=bob, on_date=D(2025, 1, 1))
    return project


def url(project, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("org:project", args=[project.code]) + (f"?{query}" if query else "")


def matrix(response) -> dict[str, dict[str, str]]:
    roles = [role.name for role in response.context["matrix"]["roles"]]
    return {str(person): dict(zip(roles, cells, strict=True)) for person, cells in response.context["matrix"]["rows"]}


def test_raci_matrix_today(viewer_client, erp):
    response = viewer_client.get(url(erp))
    assert response.status_code == 200
    assert matrix(response) == {
        "Bob Smith": {"Developer": "", "Project Manager": "A", "Sponsor": ""},
        "Carla Pérez": {"Developer": "R", "Project Manager": "", "Sponsor": "C"},
    }
    html = response.content.decode()
    assert '<td class="raci raci-A"><abbr title="Accountable">A</abbr></td>' in html
    assert html.count('<td class="raci raci-none"></td>') == 3  # Bob's Developer and Sponsor, Carla's PM
    assert html.index('title="Consulted"') < html.index("Bob Smith")  # by last name: Pérez, then Smith
    assert reverse("org:department", args=[erp.department.code]) in html
    assert reverse("org:employee", args=["E2"]) in html


def test_assignments_starting_later(viewer_client, erp):
    response = viewer_client.get(url(erp, as_of="2024-03-01"))
    later = [(str(r.record.employee), r.record.role.name) for r in response.context["future"].rows]
    assert later == [("Carla Pérez", "Sponsor"), ("Bob Smith", "Project Manager")]  # by start date
    assert list(viewer_client.get(url(erp)).context["future"].rows) == []


def test_as_of_a_past_date_shows_the_earlier_holder(viewer_client, erp):
    response = viewer_client.get(url(erp, as_of="2024-03-01"))
    assert matrix(response) == {
        "Ana García": {"Developer": "", "Project Manager": "A"},
        "Carla Pérez": {"Developer": "R", "Project Manager": ""},
    }
    assert "RACI matrix on March 1, 2024" in response.content.decode()


def test_team_with_allocation_and_past_timeline(viewer_client, erp):
    response = viewer_client.get(url(erp))
    team = [(str(r.record.employee), r.record.role.name, r.record.allocation) for r in response.context["team"].rows]
    assert sorted(team) == [
        ("Bob Smith", "Project Manager", 40),
        ("Carla Pérez", "Developer", 60),
        ("Carla Pérez", "Sponsor", None),
    ]
    past = [(str(r.record.employee), r.record.start_date, r.record.end_date) for r in response.context["past"].rows]
    assert past == [("Ana García", D(2024, 1, 1), D(2024, 12, 31))]


def test_before_any_data_is_empty(viewer_client, erp):
    response = viewer_client.get(url(erp, as_of="1900-01-01"))
    assert response.status_code == 200
    assert response.context["matrix"]["rows"] == []
    assert "Nobody holds a role on this project on that date." in response.content.decode()
    assert list(response.context["team"].rows) == []
    assert len(response.context["future"].rows) == 4  # everything is still to come


@pytest.mark.parametrize("params", [{"as_of": "2024-02-30"}, {"as_of": "x"}])
def test_bad_date_is_a_form_error_and_the_page_answers_for_today(viewer_client, erp, params):
    response = viewer_client.get(url(erp, **params))
    assert response.status_code == 200
    assert "as_of" in response.context["as_of_form"].errors
    assert "Bob Smith" in matrix(response)


@pytest.mark.parametrize("param", ["matrix_page", "team-page", "past-page"])
def test_bad_page_numbers_are_messages(viewer_client, erp, param):
    for value in ("x", "0", "50"):
        response = viewer_client.get(url(erp, **{param: value}))
        assert response.status_code == 200
        assert response.context["problems"], (param, value)


def test_matrix_is_paginated(viewer_client, developer_role):
    project = ProjectFactory(code="BIG")
    for i in range(55):
        AssignmentFactory(employee=EmployeeFactory(last_name=f"Zz{i:02d}"), role=developer_role, project=project)
    first = viewer_client.get(url(project))
    assert len(first.context["matrix"]["rows"]) == 50
    assert "matrix_page=2" in first.content.decode()
    second = viewer_client.get(url(project, matrix_page=2))
    assert len(second.context["matrix"]["rows"]) == 5


@pytest.mark.parametrize("whole_history", [200, 0], ids=["read whole", "read a page at a time"])
def test_every_page_of_the_matrix_has_every_role_held_that_day(
    viewer_client, monkeypatch, developer_role, manager_role, sponsor_role, whole_history
):
    """The Project Manager sorts last, on page 2: page 1 still has the column; a role held only in the past
    has none."""
    monkeypatch.setattr("org.views.WHOLE_HISTORY_ROWS", whole_history)
    department = DepartmentFactory()
    project = ProjectFactory(code="BIG", department=department)
    for i in range(55):
        person = EmployeeFactory(last_name=f"Dev{i:02d}", department=department)
        AssignmentFactory(employee=person, role=developer_role, project=project)
    boss = EmployeeFactory(last_name="Zz Boss", department=department)
    AssignmentFactory(employee=boss, role=manager_role, project=project, level=Level.ACCOUNTABLE)
    AssignmentFactory(employee=boss, role=sponsor_role, project=project, end_date=D(2024, 1, 31))
    pages = [viewer_client.get(url(project, as_of="2024-06-01", matrix_page=number)) for number in (1, 2)]
    for page in pages:
        assert [role.name for role in page.context["matrix"]["roles"]] == ["Developer", "Project Manager"]
    first_rows = pages[0].context["matrix"]["rows"]
    assert len(first_rows) == 50 and all(cells == ["R", ""] for _person, cells in first_rows)
    assert [cells for _person, cells in pages[1].context["matrix"]["rows"]] == [["R", ""]] * 5 + [["", "A"]]
    # A page reads the roles in one query of its own, whatever the number of people (none when read whole).
    with CaptureQueriesContext(connection) as queries:
        viewer_client.get(url(project, as_of="2024-06-01", matrix_page=2))
    assert len(queries) == (12 if whole_history == 0 else 5)


def test_exports_each_table(viewer_client, erp):
    response = viewer_client.get(url(erp, _export="csv", _table="past"))
    assert response.status_code == 200
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["Employee"], r["Role"], r["To"]) for r in table] == [("Ana García", "Project Manager", "2024-12-31")]
    response = viewer_client.get(url(erp, _export="xlsx", _table="team"))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, *data = list(sheet.values)
    assert "On" not in header  # the project's own page leaves the target out
    assert sorted(row[0] for row in data) == ["Bob Smith", "Carla Pérez", "Carla Pérez"]


def test_admin_link_only_for_users_who_may_edit(client, viewer, erp):

    client.force_login(viewer)
    admin_url = reverse("admin:org_project_change", args=[erp.pk])
    assert admin_url not in client.get(url(erp)).content.decode()
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(Permission.objects.get(codename="change_project"))
    assert admin_url in client.get(url(erp)).content.decode()


def test_raci_matrix_sorts_by_person_and_exports(viewer_client, erp):
    people = [str(person) for person, _cells in viewer_client.get(url(erp)).context["matrix"]["rows"]]
    assert people == ["Carla Pérez", "Bob Smith"]
    reverse_order = viewer_client.get(url(erp, matrix_sort="-person"))
    assert [str(person) for person, _cells in reverse_order.context["matrix"]["rows"]] == ["Bob Smith", "Carla Pérez"]
    assert "matrix_sort=person" in reverse_order.content.decode()  # the header link turns it back
    export = viewer_client.get(url(erp, _export="csv", _table="matrix", matrix_sort="-person"))
    assert export["Content-Disposition"].endswith('-matrix.csv"')
    assert list(csv.reader(io.StringIO(export.content.decode()))) == [
        ["Person", "Employee number", "Developer", "Project Manager", "Sponsor"],
        ["Bob Smith", "E2", "", "A", ""],
        ["Carla Pérez", "E3", "R", "", "C"],
    ]
    xlsx = viewer_client.get(url(erp, _export="xlsx", _table="matrix"))
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert [cell.value for cell in sheet[2]] == ["Carla Pérez", "E3", "R", None, "C"]


def test_unknown_matrix_sort_is_a_message(viewer_client, erp):
    response = viewer_client.get(url(erp, matrix_sort="salary"))
    assert response.status_code == 200
    assert "to sort by; showing the usual order" in response.content.decode()
    assert len(response.context["matrix"]["rows"]) == 2

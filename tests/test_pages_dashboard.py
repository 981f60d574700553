"""The dashboard: counts and the gaps, each linking to the full list behind it."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from org import selectors, services, views
from org.models import Department, Employee, Level, ProjectStatus
from tests.factories import AssignmentFactory, DepartmentFactory, EmployeeFactory, ProjectFactory
from tests.imports import load_examples

pytestmark = pytest.mark.django_db


@pytest.fixture
def gaps(developer_role, manager_role, head_role):
    """One row for each gap, and a neighbour that must stay out of it."""
    today = timezone.localdate()
    days = datetime.timedelta
    staffed = DepartmentFactory(code="OK", name="Staffed")
    headless = DepartmentFactory(code="NOHEAD", name="Headless")
    boss = EmployeeFactory(employee_number="BOSS", first_name="Bea", last_name="Boss", department=staffed)
    AssignmentFactory(employee=boss, role=head_role, project=None, department=staffed, level=Level.ACCOUNTABLE)
    led = ProjectFactory(code="LED", department=staffed)
    ProjectFactory(code="ORPHAN", name="Orphan", department=staffed)
    ProjectFactory(code="IDEA", department=staffed, status=ProjectStatus.PROPOSED)  # not running: no gap
    AssignmentFactory(employee=boss, role=manager_role, project=led, level=Level.ACCOUNTABLE, allocation=10)
    ending = EmployeeFactory(employee_number="END", first_name="Eve", last_name="Ending", department=staffed)
    AssignmentFactory(employee=ending, role=developer_role, project=led, end_date=today + days(10))
    AssignmentFactory(
        employee=ending, role=developer_role, project=None, department=headless, end_date=today + days(40)
    )
    busy = EmployeeFactory(employee_number="BUSY", first_name="Olga", last_name="Over", department=staffed)
    AssignmentFactory(employee=busy, role=developer_role, project=led, allocation=70)
    AssignmentFactory(employee=busy, role=developer_role, project=None, department=headless, allocation=70)
    EmployeeFactory(employee_number="IDLE", first_name="Ian", last_name="Idle", department=staffed)
    EmployeeFactory(employee_number="GONE0", last_name="Gone", department=staffed, leave_date=today - days(30))
    leaver = EmployeeFactory(
        employee_number="LEFT", first_name="Leo", last_name="Left", department=staffed, leave_date=today - days(5)
    )
    AssignmentFactory(employee=leaver, role=developer_role, project=led, allocation=0)
    return {"headless": headless}


def by_kind(response) -> dict[str, dict]:
    return {gap["kind"]: gap for gap in response.context["gaps"]}


def test_dashboard_counts_and_gaps(viewer_client, gaps):
    response = viewer_client.get(reverse("org:dashboard"))
    assert response.status_code == 200
    found = by_kind(response)
    assert [row.code for row, _url in found["projects-without-accountable"]["sample"]] == ["ORPHAN"]
    assert [str(row) for row, _url in found["departments-without-accountable"]["sample"]] == ["Headless (NOHEAD)"]
    assert [str(row.employee) for row, _url in found["assignments-ending"]["sample"]] == ["Eve Ending"]
    assert [(str(row), row.total_allocation) for row, _url in found["overallocated"]["sample"]] == [("Olga Over", 140)]
    assert [str(row) for row, _url in found["unassigned"]["sample"]] == ["Ian Idle"]
    assert [str(row) for row, _url in found["leavers"]["sample"]] == ["Leo Left"]
    for kind, gap in found.items():
        assert gap["count"] == 1, kind
    html = response.content.decode()
    for kind in found:
        assert f'href="{reverse("org:gap", args=[kind])}"' in html
    counts = {str(label): number for label, number, _url in response.context["counts"]}
    assert counts["employees on the staff"] == 4  # the two leavers are not
    assert counts["projects"] == 3


def test_a_project_closed_early_is_no_gap(viewer_client, gaps):
    today = timezone.localdate()
    staffed = Department.objects.get(code="OK")
    ProjectFactory(
        code="SHUT", department=staffed, status=ProjectStatus.CLOSED, end_date=today + datetime.timedelta(days=30)
    )
    gap = by_kind(viewer_client.get(reverse("org:dashboard")))["projects-without-accountable"]
    assert (gap["count"], [row.code for row, _url in gap["sample"]]) == (1, ["ORPHAN"])
    listed = viewer_client.get(reverse("org:gap", args=["projects-without-accountable"]))
    assert [row.record.code for row in listed.context["table"].paginated_rows] == ["ORPHAN"]


def test_the_staff_count_links_to_the_same_people(viewer_client, gaps):
    """Leavers and people hired later are neither counted nor listed behind the link."""
    EmployeeFactory(employee_number="SOON", hire_date=timezone.localdate() + datetime.timedelta(days=3))
    response = viewer_client.get(reverse("org:dashboard"))
    [(number, url)] = [(n, url) for label, n, url in response.context["counts"] if label == "employees on the staff"]
    assert f'href="{url}"' in response.content.decode()
    listed = {row.record.employee_number for row in viewer_client.get(url).context["table"].paginated_rows}
    assert len(listed) == number
    assert listed == {"BOSS", "END", "BUSY", "IDLE"}  # not LEFT or GONE0, who left, nor SOON, hired later


def test_dashboard_shows_a_few_rows_of_a_long_gap(viewer_client):
    for i in range(12):
        EmployeeFactory(employee_number=f"I{i:02d}")
    gap = by_kind(viewer_client.get(reverse("org:dashboard")))["unassigned"]
    assert gap["count"] == 12
    assert len(gap["sample"]) == 5


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("projects-without-accountable", "ORPHAN"),
        ("departments-without-accountable", "NOHEAD"),
        ("assignments-ending", "Eve Ending"),
        ("overallocated", "Olga Over"),
        ("unassigned", "Ian Idle"),
        ("leavers", "Leo Left"),
    ],
)
def test_gap_list_and_its_export(viewer_client, gaps, kind, expected):
    response = viewer_client.get(reverse("org:gap", args=[kind]))
    assert response.status_code == 200
    assert len(list(response.context["table"].paginated_rows)) == 1
    assert expected in response.content.decode()
    export = viewer_client.get(reverse("org:gap", args=[kind]), {"_export": "csv"})
    table = list(csv.reader(io.StringIO(export.content.decode())))
    assert len(table) == 2
    assert any(expected in cell for cell in table[1])


def test_dashboard_figures_are_remembered_until_the_data_changes(viewer_client, gaps, head_role):
    url = reverse("org:dashboard")
    first = by_kind(viewer_client.get(url))
    with CaptureQueriesContext(connection) as queries:
        again = by_kind(viewer_client.get(url))
    assert again["unassigned"]["count"] == first["unassigned"]["count"] == 1  # Ian Idle
    # The session, its user, its access (org.access) and the data version; nothing counted again.
    assert len(queries) == 4, [q["sql"] for q in queries]

    idle = next(row for row, _url in first["unassigned"]["sample"] if row.employee_number == "IDLE")
    services.assignment_create(employee=idle, role=head_role, target=gaps["headless"], start_date=timezone.localdate())
    after = by_kind(viewer_client.get(url))
    assert after["unassigned"]["count"] == first["unassigned"]["count"] - 1
    assert "Ian Idle" not in [str(row) for row, _url in after["unassigned"]["sample"]]


def test_gap_list_follows_a_change_at_once(viewer_client, gaps, head_role):
    url = reverse("org:gap", args=["unassigned"])
    assert "Ian Idle" in viewer_client.get(url).content.decode()
    idle = Employee.objects.get(employee_number="IDLE")
    services.assignment_create(employee=idle, role=head_role, target=gaps["headless"], start_date=timezone.localdate())
    assert "Ian Idle" not in viewer_client.get(url).content.decode()


@pytest.mark.parametrize("remembered", [0, 1000], ids=["live query", "remembered ids"])
def test_gap_list_is_the_same_remembered_or_not(viewer_client, gaps, monkeypatch, remembered):
    monkeypatch.setattr(views, "GAP_IDS_REMEMBERED", remembered)
    for i in range(3):
        EmployeeFactory(employee_number=f"IDLE{i}", last_name=f"Idle{i}")
    response = viewer_client.get(reverse("org:gap", args=["unassigned"]), {"sort": "-name"})
    names = [row.record.employee_number for row in response.context["table"].paginated_rows]
    assert names == ["IDLE2", "IDLE1", "IDLE0", "IDLE"]


def test_an_import_renews_the_remembered_figures(viewer_client):
    url = reverse("org:dashboard")
    before = viewer_client.get(url).context["counts"]
    assert [number for _label, number, _url in before][:2] == [0, 0]  # no staff, no departments
    load_examples()  # bulk INSERTs with their history rows, not the ORM's save()
    after = viewer_client.get(url).context["counts"]
    assert [number for _label, number, _url in after][:2] == [
        selectors.employees_employed_on(timezone.localdate()).count(),
        Department.objects.active().count(),
    ]
    assert after[0][1] > 0


@pytest.mark.parametrize("kind", views.GAPS)
def test_every_gap_list_reads_the_same_rows_remembered_or_not(viewer_client, gaps, monkeypatch, kind):
    def shown(remembered: int) -> list[tuple[int, str]]:
        monkeypatch.setattr(views, "GAP_IDS_REMEMBERED", remembered)
        cache.clear()
        response = viewer_client.get(reverse("org:gap", args=[kind]))
        table = response.context["table"]
        return [(row.record.pk, table.rows_html()) for row in table.paginated_rows]

    live = shown(0)
    assert live
    assert shown(1000) == live

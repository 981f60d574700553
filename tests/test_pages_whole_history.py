"""A person's or a project's whole history read at once (org.views._held) shows the same pages as one read a
table page at a time: same rows, same order for every sort, same matrix, same exports."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from org import views
from org.models import Level
from org.tables import collation_key, sort_rows
from tests.factories import AssignmentFactory, EmployeeFactory, ProjectFactory, RoleFactory

D = datetime.date
TODAY = datetime.date.today()
pytestmark = pytest.mark.django_db
LEVELS = [Level.ACCOUNTABLE, Level.RESPONSIBLE, Level.CONSULTED, Level.INFORMED]


@pytest.fixture
def project(db):
    """Thirty people on one project, ten past, ten in force and ten to come, on three roles; every date,
    allocation and name different, so each sort has one right order."""
    project = ProjectFactory(code="BIG")
    roles = [RoleFactory(name=name) for name in ("Analyst", "Developer", "Tester")]
    for number in range(30):
        person = EmployeeFactory(first_name=f"Person {number:02d}", last_name=f"Surname {29 - number:02d}")
        start = TODAY + datetime.timedelta(days=(number - 20) * 40 + 1)
        end = start + datetime.timedelta(days=20 if number < 10 or number >= 20 else 2000 + number)
        AssignmentFactory(
            employee=person,
            project=project,
            role=roles[number % 3],
            level=LEVELS[number % 4] if number != 10 else Level.ACCOUNTABLE,
            start_date=start,
            end_date=end,
            allocation=number,
        )
    return project


def read_both_ways(client, monkeypatch, url: str) -> tuple:
    """The page read with the whole history in memory, then a table page at a time."""
    monkeypatch.setattr(views, "WHOLE_HISTORY_ROWS", 200)
    whole = client.get(url)
    monkeypatch.setattr(views, "WHOLE_HISTORY_ROWS", 0)
    paged = client.get(url)
    assert whole.status_code == paged.status_code == 200, url
    return whole, paged


def shown(response, table: str) -> list[int]:
    return [row.record.pk for row in response.context[table].paginated_rows]


@pytest.mark.parametrize("table", ["team", "past", "future"])
@pytest.mark.parametrize(
    "sort", ["", "start_date", "-start_date", "-end_date", "employee", "-employee", "allocation", "-allocation"]
)
@pytest.mark.parametrize("page", ["1", "2"])
def test_the_project_tables_are_the_same_either_way(viewer_client, monkeypatch, project, table, sort, page):
    query = f"?{table}-sort={sort}&{table}-page={page}" if sort else f"?{table}-page={page}"
    url = reverse("org:project", args=[project.code]) + query
    whole, paged = read_both_ways(viewer_client, monkeypatch, url)
    assert shown(whole, table) == shown(paged, table)
    assert whole.context["problems"] == paged.context["problems"]


@pytest.mark.parametrize("sort", ["role", "-role", "level", "-level"])
def test_sorts_with_ties_hold_the_same_rows_in_the_same_order_of_values(viewer_client, monkeypatch, project, sort):
    url = reverse("org:project", args=[project.code]) + f"?as_of={TODAY}&team-sort={sort}"
    whole, paged = read_both_ways(viewer_client, monkeypatch, url)
    column = sort.lstrip("-")

    def values(response) -> list[str]:
        table = response.context["team"]
        return [table.cells(row.record)[column] for row in table.paginated_rows]

    assert values(whole) == values(paged)
    assert set(shown(whole, "team")) == set(shown(paged, "team"))


@pytest.mark.parametrize("matrix", ["", "&matrix_sort=-person", "&_export=csv&_table=matrix"])
@pytest.mark.parametrize("day", [TODAY, TODAY - datetime.timedelta(days=300), D(1990, 1, 1)])
def test_the_raci_matrix_is_the_same_either_way(viewer_client, monkeypatch, project, matrix, day):
    url = reverse("org:project", args=[project.code]) + f"?as_of={day}{matrix}"
    whole, paged = read_both_ways(viewer_client, monkeypatch, url)
    if "_export" in matrix:
        assert whole.content == paged.content
        assert whole.content.count(b"\n") == 1 + len([p for p in project.assignments.all() if p.is_active_on(day)])
    else:
        assert whole.context["matrix"]["html"] == paged.context["matrix"]["html"]
        assert [r.name for r in whole.context["matrix"]["roles"]] == [r.name for r in paged.context["matrix"]["roles"]]


@pytest.mark.parametrize("export", ["team", "past", "future"])
def test_exports_are_the_same_either_way(viewer_client, monkeypatch, project, export):
    url = reverse("org:project", args=[project.code]) + f"?_export=csv&_table={export}&{export}-sort=-start_date"
    whole, paged = read_both_ways(viewer_client, monkeypatch, url)
    assert whole.content == paged.content
    assert whole.content.count(b"\n") == 11  # the header and ten rows, whatever the page


@pytest.mark.parametrize(
    "query", ["", "?as_of=1990-01-01", "?current-sort=-start_date", "?past-sort=role", "?_export=csv&_table=past"]
)
def test_the_employee_page_is_the_same_either_way(viewer_client, monkeypatch, query):
    person = EmployeeFactory(first_name="Many", last_name="Roles")
    for number in range(12):
        start = TODAY + datetime.timedelta(days=(number - 8) * 50)
        AssignmentFactory(
            employee=person,
            role=RoleFactory(name=f"Role {number:02d}"),
            start_date=start,
            end_date=start + datetime.timedelta(days=30) if number < 4 else None,
            allocation=number * 5,
        )
    url = reverse("org:employee", args=[person.employee_number]) + query
    whole, paged = read_both_ways(viewer_client, monkeypatch, url)
    if "_export" in query:
        assert whole.content == paged.content
        return
    for table in ("current", "past", "future"):
        assert shown(whole, table) == shown(paged, table), table
    assert whole.context["workload"] == paged.context["workload"]
    assert whole.context["workload"]["count"] == (0 if "1990" in query else 5)


def test_in_memory_order_is_the_databases_collation():
    """Text sorts without regard to case or accents, as MariaDB's collation does; empty values first."""
    names = ["zapata", "Álvarez", "alonso", "Ñúñez", "Nadal", "ábalos"]
    assert sorted(names, key=collation_key) == ["ábalos", "alonso", "Álvarez", "Nadal", "Ñúñez", "zapata"]

    class Row:
        def __init__(self, name, day):
            self.name, self.day = name, day

    rows = [Row("b", D(2024, 1, 2)), Row("a", None), Row("B", D(2024, 1, 1)), Row("c", None)]
    assert [(r.name, r.day) for r in sort_rows(list(rows), ["day", "name"])] == [
        ("a", None),
        ("c", None),
        ("B", D(2024, 1, 1)),
        ("b", D(2024, 1, 2)),
    ]
    assert [r.name for r in sort_rows(list(rows), ["-day", "-name"])] == ["b", "B", "c", "a"]


@pytest.mark.mariadb
def test_accented_names_sort_as_mariadb_sorts_them(viewer_client, monkeypatch):
    project = ProjectFactory(code="ACC")
    role = RoleFactory(name="Member")
    for first, last in [("Zoe", "zapata"), ("Ana", "Álvarez"), ("Luis", "alonso"), ("Eva", "Ñúñez"), ("Pau", "Nadal")]:
        AssignmentFactory(employee=EmployeeFactory(first_name=first, last_name=last), project=project, role=role)
    url = reverse("org:project", args=[project.code]) + "?team-sort=employee"
    whole, paged = read_both_ways(viewer_client, monkeypatch, url)
    assert shown(whole, "team") == shown(paged, "team")
    assert [str(row.record.employee) for row in whole.context["team"].paginated_rows] == [
        "Luis alonso",
        "Ana Álvarez",
        "Pau Nadal",
        "Eva Ñúñez",
        "Zoe zapata",
    ]

"""Reads: who holds what, on today, a past and a future date."""

from __future__ import annotations

import datetime

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.utils import timezone

from org import selectors, services
from org.middleware import OneDataVersionPerRead
from org.models import Department, ProjectStatus
from tests.factories import AssignmentFactory, DepartmentFactory, EmployeeFactory, ProjectFactory

D = datetime.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def handed_over(ana, bob, project, manager_role):
    """Ana managed the project until 2025-05-31; Bob from 2025-06-01."""
    services.assignment_create(
        employee=ana, role=manager_role, target=project, start_date=D(2024, 1, 1), end_date=D(2025, 5, 31)
    )
    services.assignment_create(employee=bob, role=manager_role, target=project, start_date=D(2025, 6, 1))
    return project


@pytest.mark.parametrize(
    ("day", "holder"),
    [(D(2023, 12, 31), None), (D(2024, 1, 1), "Ana"), (D(2025, 5, 31), "Ana"), (D(2025, 6, 1), "Bob")],
)
def test_accountable_as_of(handed_over, day, holder):
    found = selectors.accountable_for(target=handed_over, as_of=day)
    assert (found.employee.first_name if found else None) == holder


def test_responsible_for_lists_accountable_first_in_one_query(
    handed_over, carla, developer_role, django_assert_num_queries
):
    services.assignment_create(employee=carla, role=developer_role, target=handed_over, start_date=D(2025, 1, 1))
    with django_assert_num_queries(1):
        rows = [
            (a.employee.first_name, a.level, a.role.name)
            for a in selectors.responsible_for(target=handed_over, as_of=D(2025, 7, 1))
        ]
    assert rows == [("Bob", "A", "Project Manager"), ("Carla", "R", "Developer")]


def test_projects_without_accountable(handed_over, manager_role, ana):
    orphan = ProjectFactory(code="ORPH", start_date=D(2024, 1, 1))
    ProjectFactory(code="IDEA", status=ProjectStatus.PROPOSED)
    ProjectFactory(code="LATER", start_date=D(2030, 1, 1))
    ProjectFactory(code="OLD", status=ProjectStatus.CLOSED, start_date=D(2020, 1, 1), end_date=D(2021, 1, 1))
    assert [p.code for p in selectors.projects_without_accountable(as_of=D(2025, 7, 1))] == ["ORPH"]
    # Before Ana's time, the handed-over project had nobody either.
    assert {p.code for p in selectors.projects_without_accountable(as_of=D(2023, 6, 1))} == {"ERP"}
    assert "OLD" in {p.code for p in selectors.projects_without_accountable(as_of=D(2020, 6, 1))}
    assert orphan in selectors.projects_without_accountable()


def test_a_closed_project_is_running_only_on_days_gone_by():
    """Closed early (its end date still ahead) it runs no more from today; on a past day it ran until its end."""
    today, days = timezone.localdate(), datetime.timedelta
    ProjectFactory(code="EARLY", status=ProjectStatus.CLOSED, start_date=today - days(100), end_date=today + days(30))
    ProjectFactory(code="DONE", status=ProjectStatus.CLOSED, start_date=today - days(100), end_date=today - days(10))
    ProjectFactory(code="NOEND", status=ProjectStatus.CLOSED, start_date=today - days(100))

    def running(day: datetime.date | None) -> set[str]:
        return {p.code for p in selectors.projects_without_accountable(as_of=day)}

    assert running(None) == running(today) == set()
    assert running(today + days(10)) == running(today + days(60)) == set()
    assert running(today - days(1)) == {"EARLY"}
    assert running(today - days(10)) == running(today - days(50)) == {"EARLY", "DONE"}
    assert running(today - days(200)) == set()  # not started then


def test_departments_without_head(department, head_role):
    ana = EmployeeFactory(department=None)
    DepartmentFactory(code="OFF", active=False)
    services.assignment_create(employee=ana, role=head_role, target=department, start_date=D(2025, 1, 1))
    assert list(selectors.departments_without_accountable(as_of=D(2025, 1, 1))) == []
    assert list(selectors.departments_without_accountable(as_of=D(2024, 12, 31))) == [department]


def test_workload_sums_allocations_in_force(ana, bob, developer_role, django_assert_num_queries):
    AssignmentFactory(employee=ana, role=developer_role, allocation=60, start_date=D(2025, 1, 1))
    AssignmentFactory(employee=ana, role=developer_role, allocation=50, start_date=D(2025, 1, 1))
    AssignmentFactory(employee=ana, role=developer_role, allocation=40, end_date=D(2024, 12, 31))
    AssignmentFactory(employee=bob, role=developer_role, allocation=None, start_date=D(2025, 1, 1))
    with django_assert_num_queries(1):
        loads = {
            e.first_name: (e.total_allocation, e.assignment_count) for e in selectors.workload(as_of=D(2025, 2, 1))
        }
    assert loads == {"Ana": (110, 2), "Bob": (0, 1)}
    assert selectors.workload(as_of=D(2024, 6, 1)).get(pk=ana.pk).total_allocation == 40


def test_department_subtree(department):
    child = Department.objects.create(code="ACC", name="Accounting", parent=department)
    grandchild = Department.objects.create(code="PAY", name="Payables", parent=child)
    Department.objects.create(code="OTHER", name="Other")
    assert selectors.department_subtree_ids(department) == {department.pk, child.pk, grandchild.pk}
    assert selectors.department_subtree_ids(grandchild.pk) == {grandchild.pk}
    tree = [(d.code, depth) for d, depth in selectors.department_tree()]
    assert tree == [("FIN", 0), ("ACC", 1), ("PAY", 2), ("OTHER", 0)]


def test_queryset_methods(ana, project, developer_role):
    today = timezone.localdate()
    past = AssignmentFactory(employee=ana, project=project, start_date=D(2020, 1, 1), end_date=D(2020, 12, 31))
    now = AssignmentFactory(employee=ana, project=project, start_date=D(2021, 1, 1))
    later = AssignmentFactory(employee=ana, project=project, start_date=today + datetime.timedelta(days=10))
    from org.models import Assignment

    assert list(Assignment.objects.current()) == [now]
    assert list(Assignment.objects.past()) == [past]
    assert list(Assignment.objects.future()) == [later]
    assert set(Assignment.objects.for_target(project)) == {past, now, later}
    assert list(Assignment.objects.for_target(project).as_of(D(2020, 6, 1))) == [past]
    with pytest.raises(TypeError):
        Assignment.objects.for_target(ana)


def test_one_data_version_asks_once_and_only_inside_the_block(ana, django_assert_num_queries):
    with selectors.one_data_version():
        with django_assert_num_queries(1):
            first = selectors.data_version()
            assert selectors.data_version() == first
        ana.first_name = "Anna"
        ana.save()
        assert selectors.data_version() == first  # why the block is for reads only
    assert selectors.data_version() != first


@pytest.mark.parametrize(("method", "queries"), [("get", 1), ("head", 1), ("post", 2)])
def test_a_read_request_asks_for_the_data_version_once(rf, method, queries, django_assert_num_queries):
    def view(request):
        selectors.data_version()
        selectors.data_version()
        return HttpResponse()

    with django_assert_num_queries(queries):
        OneDataVersionPerRead(view)(getattr(rf, method)("/"))
    with django_assert_num_queries(1):  # and not after it
        selectors.data_version()


def test_remembered_figure_is_read_back_as_it_is_until_the_cache_lets_it_go(db):
    computed = []

    def compute() -> list[str]:
        computed.append(1)
        return ["figure"]

    first = selectors.remembered("test-figure", compute)
    assert selectors.remembered("test-figure", compute) is first  # no unpickling
    assert len(computed) == 1
    cache.clear()
    assert selectors.remembered("test-figure", compute) == first
    assert len(computed) == 2
    DepartmentFactory()  # a new data version
    assert selectors.remembered("test-figure", compute) == first
    assert len(computed) == 3


@pytest.mark.django_db
def test_a_flood_of_distinct_remembered_searches_keeps_the_figures_every_page_reads():
    """The process keeps remembered objects least recently used first out: hundreds of one-off searches do not
    push out a figure read in between (it used to be emptied whole at 256 keys, the figure unpickled again)."""
    figure = selectors.remembered("company-figure", lambda: {"departments": 3})

    for i in range(selectors.UNPICKLED_KEPT + 20):  # within the cache's own 300 entries (LocMemCache)
        selectors.remembered(f"search-word:{i}", list)
        assert selectors.remembered("company-figure", lambda: {"departments": 3}) is figure

    assert len(selectors._unpickled) == selectors.UNPICKLED_KEPT

"""The employee page: current and past roles, workload, manager chain."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from org import services
from org.models import Employee
from tests.factories import EmployeeFactory

D = datetime.date
pytestmark = pytest.mark.django_db


def url(number: str, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("org:employee", args=[number]) + (f"?{query}" if query else "")


@pytest.fixture
def ana_roles(ana, bob, project, department, manager_role, developer_role, head_role):
    services.assignment_create(employee=ana, role=manager_role, target=project, start_date=D(2024, 1, 1), allocation=70)
    services.assignment_create(
        employee=ana, role=developer_role, target=project, start_date=D(2023, 1, 1), end_date=D(2023, 12, 31)
    )
    services.assignment_create(employee=ana, role=head_role, target=department, start_date=D(2024, 1, 1), allocation=50)
    return ana


def test_current_and_past_roles_and_workload(viewer_client, ana_roles):
    response = viewer_client.get(url("E1"))
    assert response.status_code == 200
    current = sorted(r.record.role.name for r in response.context["current"].rows)
    assert current == ["Head of Department", "Project Manager"]
    assert [r.record.role.name for r in response.context["past"].rows] == ["Developer"]
    assert response.context["workload"] == {"total": 120, "count": 2}
    html = response.content.decode()
    assert "120 % over 2 assignments" in html
    assert reverse("org:project", args=["ERP"]) in html
    assert reverse("org:department", args=["FIN"]) in html


def test_as_of_a_past_date(viewer_client, ana_roles):
    response = viewer_client.get(url("E1", as_of="2023-06-01"))
    assert [r.record.role.name for r in response.context["current"].rows] == ["Developer"]
    assert list(response.context["past"].rows) == []
    empty = viewer_client.get(url("E1", as_of="1900-01-01"))
    assert empty.context["workload"] == {"total": 0, "count": 0}


def test_roles_starting_later(viewer_client, ana_roles):
    assert list(viewer_client.get(url("E1")).context["future"].rows) == []
    response = viewer_client.get(url("E1", as_of="2023-06-01"))
    later = sorted(r.record.role.name for r in response.context["future"].rows)
    assert later == ["Head of Department", "Project Manager"]  # both start on 2024-01-01
    assert "Starting after June 1, 2023" in response.content.decode()
    export = viewer_client.get(url("E1", as_of="2023-06-01", _export="csv", _table="future"))
    assert export.content.decode().count("\n") == 3  # the header and the two


def test_manager_chain_up_to_the_top_in_one_query(viewer_client, django_assert_num_queries):
    top = EmployeeFactory(employee_number="TOP", first_name="Top", last_name="Boss")
    chain = [top]
    for i in range(30):
        chain.append(EmployeeFactory(employee_number=f"L{i}", manager=chain[-1]))
    bottom = chain[-1]
    response = viewer_client.get(url(bottom.employee_number))
    assert [e.employee_number for e in response.context["chain"]] == [e.employee_number for e in reversed(chain[:-1])]
    # Same number of queries for the top of the tree and for 30 levels down.
    with django_assert_num_queries(6):
        viewer_client.get(url("TOP"))
    with django_assert_num_queries(6):
        viewer_client.get(url(bottom.employee_number))


def test_manager_chain_stops_at_a_cycle(ana, bob):
    """The services refuse a cycle; should bad data hold one, the walk still ends."""
    from org import selectors

    Employee.objects.filter(pk=ana.pk).update(manager=bob)
    Employee.objects.filter(pk=bob.pk).update(manager=ana)
    assert len(selectors.manager_chain(ana, limit=10)) == 10


def test_bad_input(viewer_client, ana_roles):
    response = viewer_client.get(url("E1", as_of="2024-99-01", **{"current-page": "-3", "past-sort": "nonsense"}))
    assert response.status_code == 200
    assert "as_of" in response.context["as_of_form"].errors
    assert response.context["problems"]

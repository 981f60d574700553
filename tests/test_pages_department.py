"""The department page (breadcrumb, head, members, projects, org chart) and the whole org chart."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from org import services
from org.models import Department, Employee, Project
from tests.factories import DepartmentFactory, EmployeeFactory, ProjectFactory

D = datetime.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def tree(ana, bob, head_role):
    """Company > Finance > Payroll, Company > Sales; Ana heads Finance until Bob takes over on 2025-01-01."""
    company = Department.objects.create(code="CO", name="Company")
    finance = Department.objects.create(code="FIN", name="Finance", parent=company)
    payroll = Department.objects.create(code="PAY", name="Payroll", parent=finance)
    Department.objects.create(code="SAL", name="Sales", parent=company)
    services.assignment_create(employee=ana, role=head_role, target=finance, start_date=D(2024, 1, 1))
    services.employee_hand_over(leaver=ana, successor=bob, on_date=D(2025, 1, 1))
    for i in range(30):
        EmployeeFactory(last_name=f"Member{i:02d}", department=finance)
    ProjectFactory(code="LEDGER", name="New ledger", department=finance)
    ProjectFactory(code="SALARY", name="Salary tool", department=payroll)
    return {"company": company, "finance": finance, "payroll": payroll}


def url(code: str, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("org:department", args=[code]) + (f"?{query}" if query else "")


def test_department_page(viewer_client, tree):
    response = viewer_client.get(url("FIN"))
    assert response.status_code == 200
    assert [d.code for d in response.context["breadcrumb"]] == ["CO"]
    assert [d.code for d in response.context["children"]] == ["PAY"]
    assert str(response.context["head"]) == "Bob Smith"
    assert len(list(response.context["members"].paginated_rows)) == 25
    assert [r.record.code for r in response.context["projects"].rows] == ["LEDGER"]
    html = response.content.decode()
    assert reverse("org:department", args=["CO"]) in html
    assert reverse("org:project", args=["LEDGER"]) in html
    # The org chart: this department and everything under it, nested.
    chart = str(response.context["org_chart"])
    assert chart.startswith("<ul><li>")
    assert chart.index("Finance") < chart.index("<ul><li>", 5) < chart.index("Payroll")
    assert "Sales" not in chart


def test_head_as_of_a_past_date(viewer_client, tree):
    assert str(viewer_client.get(url("FIN", as_of="2024-06-01")).context["head"]) == "Ana García"
    response = viewer_client.get(url("FIN", as_of="1900-01-01"))
    assert response.context["head"] is None
    assert "Nobody is Accountable" in response.content.decode()


def test_members_page_two_and_export(viewer_client, tree):
    response = viewer_client.get(url("FIN", **{"members-page": 2}))
    assert len(list(response.context["members"].paginated_rows)) == 5
    export = viewer_client.get(url("FIN", _export="csv", _table="members"))
    assert export.content.decode().count("\n") == 31  # the header and every member


def test_members_are_those_on_the_staff_on_the_day(viewer_client, department):
    """Hired on or before the day (no hire date counts as hired), not left before it."""
    today = timezone.localdate()
    days = datetime.timedelta
    EmployeeFactory(employee_number="OLD", department=department, hire_date=D(2010, 1, 1))
    EmployeeFactory(employee_number="NODATE", department=department, hire_date=None)
    EmployeeFactory(employee_number="NEW", department=department, hire_date=today + days(10))
    EmployeeFactory(employee_number="HIRED", department=department, hire_date=D(2020, 1, 1))
    EmployeeFactory(employee_number="LEFT", department=department, hire_date=D(2010, 1, 1), leave_date=D(2019, 12, 31))
    EmployeeFactory(employee_number="LASTDAY", department=department, hire_date=D(2010, 1, 1), leave_date=D(2020, 1, 1))
    EmployeeFactory(employee_number="ELSEWHERE", hire_date=D(2010, 1, 1))

    def members(**params) -> set[str]:
        response = viewer_client.get(url("FIN", **params))
        export = viewer_client.get(url("FIN", _export="csv", _table="members", **params))
        exported = {row["Employee number"] for row in csv.DictReader(io.StringIO(export.content.decode()))}
        shown = {row.record.employee_number for row in response.context["members"].paginated_rows}
        assert shown == exported
        return shown

    assert members() == {"OLD", "NODATE", "HIRED"}
    export = viewer_client.get(url("FIN", as_of="2019-12-31", _export="csv", _table="members"))
    assert export["Content-Disposition"] == 'attachment; filename="department-FIN-2019-12-31-members.csv"'

    assert members(as_of="2020-01-01") == {"OLD", "NODATE", "HIRED", "LASTDAY"}
    assert members(as_of="2019-12-31") == {"OLD", "NODATE", "LEFT", "LASTDAY"}
    assert members(as_of=(today + days(10)).isoformat()) == {"OLD", "NODATE", "HIRED", "NEW"}


def test_bad_input_on_the_department_page(viewer_client, tree):
    response = viewer_client.get(url("FIN", as_of="31/31/2024", **{"members-page": "zz", "projects-page": "9"}))
    assert response.status_code == 200
    assert "as_of" in response.context["as_of_form"].errors
    assert len(response.context["problems"]) == 2


def test_whole_org_chart_at_200_departments(viewer_client, django_assert_max_num_queries):
    root = Department.objects.create(code="ROOT", name="Root")
    parents = [root]
    for i in range(200):
        parents.append(Department.objects.create(code=f"D{i:03d}", name=f"Dept {i:03d}", parent=parents[i // 3]))
    # session, user, access, data version, and the remembered tree's and chart's rows
    with django_assert_max_num_queries(6):
        response = viewer_client.get(reverse("org:departments"))
    chart = str(response.context["org_chart"])
    assert chart.count("<li>") == 201
    assert chart.count("<ul>") == chart.count("</ul>")
    deep = viewer_client.get(url("D100"))
    assert [d.code for d in deep.context["breadcrumb"]] == ["ROOT", "D002", "D009", "D032"]


def test_org_chart_follows_a_change_at_once(viewer_client, tree, carla, head_role):
    assert "Carla" not in str(viewer_client.get(reverse("org:departments")).context["org_chart"])
    services.assignment_create(employee=carla, role=head_role, target=tree["payroll"], start_date=D(2024, 1, 1))
    Department.objects.create(code="NEW", name="Brand new", parent=tree["company"])
    chart = str(viewer_client.get(reverse("org:departments")).context["org_chart"])
    assert str(carla) in chart
    assert "Brand new" in chart
    assert str(viewer_client.get(url("PAY")).context["head"]) == str(carla)


def test_org_chart_in_each_language(viewer_client, tree):
    tree["payroll"].active = False
    tree["payroll"].save()
    english = str(viewer_client.get(reverse("org:departments")).context["org_chart"])
    spanish = str(viewer_client.get(reverse("org:departments"), headers={"accept-language": "es"}).context["org_chart"])
    assert "(inactive)" in english
    assert "(inactivo)" in spanish


def test_a_code_stored_with_a_slash_before_the_rule_still_has_its_pages(hr_client, db):
    """New codes and numbers cannot hold "/" (org.models.no_slash); rows stored before that rule keep working."""
    department = DepartmentFactory(code="HR-1")
    project = ProjectFactory(code="P-1", department=department)
    person = EmployeeFactory(employee_number="E-1", department=department)
    Department.objects.filter(pk=department.pk).update(code="HR/1")
    Project.objects.filter(pk=project.pk).update(code="P/1")
    Employee.objects.filter(pk=person.pk).update(employee_number="E/1")
    for path in [
        "/",
        "/employees/?q=E",
        "/projects/",
        reverse("org:department", args=["HR/1"]),
        reverse("org:project", args=["P/1"]),
        reverse("org:employee", args=["E/1"]),
    ]:
        assert hr_client.get(path).status_code == 200, path
    assert reverse("org:employee", args=["E/1"]) == "/employees/E/1/"

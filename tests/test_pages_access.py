"""Every staff page: login required, readable by any logged-in user, 404 for what does not exist."""

from __future__ import annotations

import pytest
from django.urls import reverse

from org.models import Level
from tests.factories import AssignmentFactory, DepartmentFactory, EmployeeFactory, ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(db) -> list[str]:
    department = DepartmentFactory(code="FIN", name="Finance")
    project = ProjectFactory(code="ERP", department=department)
    employee = EmployeeFactory(employee_number="E1", department=department)
    AssignmentFactory(employee=employee, project=project, level=Level.ACCOUNTABLE)
    return [
        reverse("org:dashboard"),
        reverse("org:responsible"),
        reverse("org:gap", args=["leavers"]),
        reverse("org:projects"),
        reverse("org:project", args=["ERP"]),
        reverse("org:departments"),
        reverse("org:department", args=["FIN"]),
        reverse("org:employees"),
        reverse("org:employee", args=["E1"]),
    ]


def test_anonymous_is_sent_to_login(client, pages):
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_viewer_reads_every_page_without_admin_links(viewer_client, pages):
    for url in pages:
        response = viewer_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert 'href="/admin/' not in html, url
        for link in ("org:dashboard", "org:responsible", "org:departments", "org:projects", "org:employees"):
            assert f'href="{reverse(link)}"' in html, (url, link)
        assert f'action="{reverse("set_language")}"' in html


def test_hr_sees_links_to_the_admin(hr_client, pages):
    response = hr_client.get(reverse("org:project", args=["ERP"]))
    project = response.context["project"]
    assert reverse("admin:org_project_change", args=[project.pk]) in response.content.decode()
    assert f'href="{reverse("admin:index")}"' in response.content.decode()
    response = hr_client.get(reverse("org:employee", args=["E1"]))
    assert reverse("admin:org_employee_change", args=[response.context["employee"].pk]) in response.content.decode()
    response = hr_client.get(reverse("org:department", args=["FIN"]))
    assert reverse("admin:org_department_change", args=[response.context["department"].pk]) in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/projects/NOPE/",
        "/departments/NOPE/",
        "/employees/NOPE/",
        "/gaps/nope/",
    ],
)
def test_unknown_codes_are_404(viewer_client, pages, url):
    assert viewer_client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("url", "query", "message"),
    [
        (
            "org:project",
            "_export=csv&_table=nope",
            "This page has no table called “nope”; it has team, past, future, matrix.",
        ),
        ("org:project", "_export=csv", "Say which table to export (_table): this page has team, past, future, matrix."),
        (
            "org:employee",
            "_export=xlsx&_table=",
            "Say which table to export (_table): this page has current, past, future.",
        ),
        ("org:responsible", "_export=csv&_table=bogus", "This page has one table, exported without _table."),
    ],
)
def test_an_export_of_a_table_the_page_has_not_is_the_page_saying_which_it_has(
    viewer_client, pages, url, query, message
):
    code = {"org:project": "ERP", "org:employee": "E1"}.get(url)
    response = viewer_client.get(reverse(url, args=[code] if code else []) + "?" + query)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert [str(problem) for problem in response.context["problems"]] == [message]


def test_language_switch_renders_spanish_dates(viewer_client, pages):
    response = viewer_client.post(reverse("set_language"), {"language": "es", "next": reverse("org:dashboard")})
    assert response.status_code == 302
    html = viewer_client.get(reverse("org:dashboard")).content.decode()
    assert '<html lang="es">' in html
    # Django's own Spanish formats: "28 de noviembre de 2026", month names in Spanish.
    assert " de " in html.split("<main>")[1].split("</p>")[0]

"""The staff pages in a real browser: Debian's Chromium driven by Playwright.

Against Django's live server, with the demo company loaded. Each step saves a
screenshot under test-artifacts/screenshots/ (kept by CI as artefacts). The
browser is never downloaded: it is /usr/bin/chromium (Debian's package).
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
import secrets
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from org import services
from org.access import VIEWER_GROUP
from org.models import Assignment, Employee, Project
from tests.factories import UserFactory
from tests.topology import missing_tool

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
PASSWORD = secrets.token_urlsafe(16)  # generated: no password in a tracked file

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        missing_tool("Chromium is not installed (Debian: apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the tests make between browser steps are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A page in a fresh context; every test using it also fails on a Content-Security-Policy violation, which
    Chromium reports on the console ("Refused to … because it violates the following Content Security Policy")."""
    context = browser.new_context(
        base_url=live_server.url, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(f"{page.url}: {message.text}") if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert not violations, "\n".join(violations)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/?next=/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("section.login button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


@pytest.fixture
def company(db):
    call_command("seed_demo")
    staff = UserFactory(username="staff", is_staff=False, password=PASSWORD)
    staff.groups.add(Group.objects.get(name=VIEWER_GROUP))
    return Project.objects.get(code="ERP")


def test_staff_member_finds_who_is_responsible(page, company, live_server):
    today = datetime.date.today()
    project = company
    manager_now = Assignment.objects.for_target(project).current().accountable().select_related("employee").get()
    earlier = today - datetime.timedelta(days=150)
    manager_then = Assignment.objects.for_target(project).as_of(earlier).accountable().select_related("employee").get()
    assert manager_now.employee != manager_then.employee  # the demo hands ERP over 100 days ago
    person = manager_now.employee

    log_in(page, "staff")
    shot(page, "01-dashboard")
    assert "DWH" in page.content()  # the project with nobody Accountable

    page.goto("/responsible/")
    page.fill("#id_q", person.last_name)
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_load_state()
    shot(page, "02-responsible-search")
    page.locator(f"a[href='/employees/{person.employee_number}/']").first.click()
    page.wait_for_url(f"**/employees/{person.employee_number}/")
    shot(page, "03-employee")
    assert person.full_name in page.content()

    page.locator(f"a[href='/projects/{project.code}/']").first.click()
    page.wait_for_url(f"**/projects/{project.code}/")
    shot(page, "04-project-raci")
    matrix_row = page.locator("tr", has_text=person.full_name).filter(has_text="A").first
    assert matrix_row.is_visible()
    # The timeline draws the hand-over: the earlier manager's bar ends where today's begins.
    timeline = page.locator("table.timeline")
    bars = [
        timeline.locator("tr", has_text=manager.employee.full_name)
        .filter(has_text="Accountable")
        .locator("rect.bar")
        .bounding_box()
        for manager in (manager_then, manager_now)
    ]
    assert min(bar["width"] for bar in bars) > 0
    assert bars[0]["x"] + bars[0]["width"] <= bars[1]["x"] + 1
    shot(page, "04b-project-timeline")

    page.fill("#id_as_of", earlier.isoformat())
    page.locator("#id_as_of").press("Enter")
    page.wait_for_url(re.compile(r"as_of="))
    shot(page, "05-project-past-date")
    earlier_row = page.locator("tr", has_text=manager_then.employee.full_name).filter(has_text="A").first
    assert earlier_row.is_visible()

    page.select_option("#language", "es")
    page.locator("form.language button, form.language input[type=submit]").first.click()
    page.wait_for_load_state()
    shot(page, "06-project-spanish")
    assert page.locator("html").get_attribute("lang") == "es"

    page.goto(f"/responsible/?q={person.last_name}")
    rows_on_page = page.locator("table tbody tr").count()
    with page.expect_download() as download_info:
        page.locator("a", has_text="CSV").first.click()
    content = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(content)))
    assert len(rows) - 1 == rows_on_page > 0
    assert all(person.last_name in ",".join(row) for row in rows[1:])
    shot(page, "07-responsible-export")


def test_past_holder_after_a_hand_over_made_in_the_test(page, company):
    """A hand-over done through the service shows on both sides of its date."""
    project = company
    current = Assignment.objects.for_target(project).current().accountable().get()
    successor = Employee.objects.exclude(pk=current.employee_id).filter(leave_date__isnull=True).first()
    services.employee_hand_over(leaver=current.employee, successor=successor, on_date=datetime.date.today())
    log_in(page, "staff")
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    page.goto(f"/projects/{project.code}/?as_of={yesterday.isoformat()}")
    assert page.locator("tr", has_text=current.employee.full_name).filter(has_text="A").first.is_visible()
    page.goto(f"/projects/{project.code}/")
    assert page.locator("tr", has_text=successor.full_name).filter(has_text="A").first.is_visible()
    shot(page, "08-project-after-hand-over")


def test_every_kind_of_page_works_under_the_content_security_policy(page, company):
    """The staff pages and the admin's list, search, add (autocomplete), change (inlines), history and import pages
    under the CSP header: the page fixture fails the test on any violation."""
    UserFactory(username="hr", is_staff=True, is_superuser=True, password=PASSWORD)
    employee = Employee.objects.order_by("pk").first()
    assignment = Assignment.objects.order_by("pk").first()
    log_in(page, "hr")
    for path in [
        "/",
        "/gaps/projects-without-accountable/",
        "/responsible/?q=a",
        f"/projects/{company.code}/",
        "/projects/",
        "/departments/",
        f"/departments/{company.department.code}/",
        "/employees/",
        f"/employees/{employee.employee_number}/",
        "/admin/",
        "/admin/org/assignment/?q=a",
        f"/admin/org/employee/{employee.pk}/change/",
        f"/admin/org/assignment/{assignment.pk}/history/",
        "/admin/org/employee/import/",
    ]:
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
    page.goto(f"/employees/{employee.employee_number}/#history")
    assert page.locator("h2#history").is_visible()  # HR reads the change history at the foot of the page
    shot(page, "10-employee-change-history")
    page.goto("/admin/org/assignment/add/")
    page.locator(".field-employee .select2-selection").click()  # the autocomplete widget opens its search box
    page.locator(".select2-search__field").fill(employee.last_name[:3])
    page.locator(".select2-results__option", has_text=employee.last_name).first.wait_for()
    shot(page, "09-admin-autocomplete-under-csp")

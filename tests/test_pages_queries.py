"""Every staff page answers in a pinned number of queries, the same for a company of 10 and of 500.

The count includes the session and the user (two queries); the rest is the page's own.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from org.models import Department
from tests.company import build_company

pytestmark = pytest.mark.django_db

# name: (url name, url argument (a key of the company or None), query string, queries)
# The user is an HR administrator, so the detail pages also read their change history (one query here: the
# company is bulk-created without any; tests/test_pages_history.py pins it with history). Counted with nothing
# remembered yet: each remembered figure (org.selectors.remembered) costs its own queries on
# a first visit, and the page one data version query (org.middleware.OneDataVersionPerRead) however many it shows.
PAGES = {
    "dashboard": ("org:dashboard", None, "", 20),
    "responsible": ("org:responsible", None, "", 8),
    "responsible search": ("org:responsible", None, "?q=Last1+Project", 10),  # one lookup a word
    "responsible filtered": (
        "org:responsible",
        None,
        "?role={role}&level=R&department={root}&project_status=active&as_of=2024-06-01",
        9,
    ),
    "responsible page 2 sorted": ("org:responsible", None, "?sort=-start_date&page=2", 8),
    "responsible csv": ("org:responsible", None, "?_export=csv&as_of=2024-06-01", 7),
    "responsible bad input": ("org:responsible", None, "?role=x&level=Z&department=y&as_of=nope&page=q", 6),
    # Gap lists: the session, the user, the data version, the gap's ids (remembered), the page — no page
    # query when the company has no such gap (ending, unassigned, leavers are empty in build_company).
    "gap projects": ("org:gap", "projects-without-accountable", "", 6),
    "gap departments": ("org:gap", "departments-without-accountable", "", 6),
    "gap ending": ("org:gap", "assignments-ending", "", 5),
    "gap overallocated": ("org:gap", "overallocated", "", 6),
    "gap unassigned": ("org:gap", "unassigned", "", 5),
    "gap leavers": ("org:gap", "leavers", "", 5),
    "project": ("org:project", "project", "", 6),
    "project past date": ("org:project", "project", "?as_of=2023-06-01&matrix_page=1&team-sort=role", 6),
    "project before anyone": ("org:project", "project", "?as_of=1990-01-01", 6),
    "project xlsx": ("org:project", "project", "?_export=xlsx&_table=team", 5),
    "project matrix csv": ("org:project", "project", "?_export=csv&_table=matrix&matrix_sort=-person", 5),
    "projects": ("org:projects", None, "?q=Project&status=active&department={root}", 8),
    "department": ("org:department", "department", "", 9),
    "department root": ("org:department", "root", "?as_of=2024-01-01", 10),  # ROOT has its "created" row
    "departments": ("org:departments", None, "", 6),
    "employee": ("org:employee", "employee", "", 7),
    "employee csv": ("org:employee", "employee", "?_export=csv&_table=current&as_of=2024-06-01", 5),
    "employee with manager": ("org:employee", "report", "?as_of=2024-06-01", 7),
    "employees": ("org:employees", None, "?q=First&employment=current&department={root}", 7),
}


def page_url(company: dict, name: str, arg: str | None, query: str) -> str:
    if arg is None:
        args = []
    elif arg in ("project",):
        args = [company["project"].code]
    elif arg in ("department", "root"):
        args = [company[arg].code]
    elif arg in ("employee", "report"):
        args = [company[arg].employee_number]
    else:
        args = [arg]
    return reverse(name, args=args) + query.format(role=company["role"].pk, root=company["root"].pk)


@pytest.fixture(params=[10, 500], ids=lambda size: f"size{size}")
def company(request, db):
    company = build_company(request.param)
    company["root"] = Department.objects.get(code="ROOT")
    company["report"] = company["employee"].reports.order_by("pk").first()
    return company


def count_queries(client, company, page: str, whole_history_rows: int, monkeypatch) -> int:
    from org import views

    monkeypatch.setattr(views, "WHOLE_HISTORY_ROWS", whole_history_rows)
    name, arg, query, _expected = PAGES[page]
    url = page_url(company, name, arg, query)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize("page", PAGES)
def test_page_answers_in_pinned_queries(hr_client, company, page, monkeypatch):
    # The company's first project and employee hold an assignment of every other row: at 500 that is a long
    # history, which test_a_long_history_is_read_a_page_at_a_time counts. Here both sizes read it whole.
    assert count_queries(hr_client, company, page, 1000, monkeypatch) == PAGES[page][3]


# A person or a project with a long history (over org.views.WHOLE_HISTORY_ROWS assignments) has each table's
# page read apart, after the read that found it long: the project's matrix (people, every role held that day, then
# the people's cells), team, past and future, and its timeline's key roles; the employee's current, past and future
# roles and their workload. Nobody on the matrix: no roles, no cells, no team. An export reads its one table (and
# counts it first).
LONG = {
    "project": 13,
    "project past date": 13,
    "project before anyone": 10,
    "project xlsx": 7,
    "project matrix csv": 9,
    "employee": 11,
    "employee csv": 7,
    "employee with manager": 11,
}


@pytest.mark.parametrize("page", LONG)
def test_a_long_history_is_read_a_page_at_a_time(hr_client, company, page, monkeypatch):
    assert count_queries(hr_client, company, page, 0, monkeypatch) == LONG[page]


# Visited again with nothing changed: the remembered figures cost the data version query only.
WARM = {"responsible": 6, "department": 7, "departments": 4, "employees": 6, "projects": 7}


@pytest.mark.parametrize("page", WARM)
def test_a_second_visit_reads_remembered_figures_with_one_query(hr_client, company, page):
    name, arg, query, _cold = PAGES[page]
    url = page_url(company, name, arg, query)
    hr_client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = hr_client.get(url)
    assert response.status_code == 200, url
    assert len(queries) == WARM[page], f"{url}: {[q['sql'] for q in queries]}"

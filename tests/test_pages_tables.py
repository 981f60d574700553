"""The staff tables' own rendering (``BaseTable.html`` and ``cells``) shows exactly what django-tables2 would.

The pages render tables in Python for speed; django-tables2 still defines
the columns, their order and visibility, sorting and exports. Each cell is
compared with django-tables2's rendering of the same column, so a column
added or changed on one side and not the other fails here; each whole table
(export links, header, sort links, rows, pager) with what the pages showed
through django-tables2's own template.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.template import RequestContext, Template
from django.test import RequestFactory
from django.utils.html import conditional_escape
from django.utils.translation import override
from django_tables2.paginators import LazyPaginator
from pytest_django.asserts import assertHTMLEqual

from org import selectors
from org.models import Assignment, Department, Employee, Level, Project, ProjectStatus
from org.tables import AssignmentTable, BaseTable, DepartmentTable, EmployeeTable, ProjectTable, WorkloadTable
from tests.factories import AssignmentFactory, DepartmentFactory, EmployeeFactory, ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(developer_role, head_role):
    """Rows with every kind of value: links and no links, empty fields, both targets, markup in names."""
    top = DepartmentFactory(code="TOP", name="Top <&> Co")
    sub = DepartmentFactory(code="SUB", name="Sub", parent=top)
    project = ProjectFactory(code="P<1>", name="Ledger & co", department=sub, status=ProjectStatus.ON_HOLD)
    ProjectFactory(code="P2", department=top, start_date=None, end_date=datetime.date(2030, 1, 2))
    with_all = EmployeeFactory(employee_number="E1", first_name="Ana", last_name="<b>García</b>", department=sub)
    EmployeeFactory(employee_number="E2", job_title="", department=None, leave_date=datetime.date(2026, 1, 31))
    AssignmentFactory(employee=with_all, role=developer_role, project=project, allocation=70, level=Level.RESPONSIBLE)
    AssignmentFactory(
        employee=with_all,
        role=head_role,
        project=None,
        department=top,
        allocation=None,
        level=Level.ACCOUNTABLE,
        end_date=datetime.date(2099, 12, 31),
    )


def assert_cells_match(table: BaseTable) -> None:
    table.paginate(per_page=25)
    rows = list(table.paginated_rows)
    assert rows, "nothing compared"
    for row in rows:
        ours = table.cells(row.record)
        for column in table.columns:
            theirs = str(conditional_escape(row.get_cell(column.name)))
            assert ours[column.name] == theirs, (type(table).__name__, column.name, row.record)


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(
    ("table_class", "data", "kwargs"),
    [
        (AssignmentTable, lambda: Assignment.objects.with_related(), {}),
        (AssignmentTable, lambda: Assignment.objects.with_related_fetched_after(), {"exclude": ("employee",)}),
        (EmployeeTable, lambda: Employee.objects.select_related("department"), {}),
        (WorkloadTable, lambda: selectors.workload(), {}),
        (ProjectTable, lambda: Project.objects.select_related("department"), {}),
        (DepartmentTable, lambda: Department.objects.select_related("parent"), {}),
    ],
    ids=["assignments", "assignments of a person", "employees", "workload", "projects", "departments"],
)
def test_cells_are_what_django_tables2_renders(rows, table_class, data, kwargs, language):
    with override(language):
        assert_cells_match(table_class(data(), **kwargs))


def test_hidden_columns_stay_out_of_the_rows(rows):
    table = AssignmentTable(Assignment.objects.with_related(), exclude=("target",))
    table.paginate(per_page=25)
    html = str(table.rows_html())
    assert html.count("<tr>") == 2
    assert html.count("<td") == 2 * len(list(table.columns)) == 2 * 6  # employee_number is hidden, target excluded
    assert "<td>E1</td>" not in html and "Ledger" not in html


def test_an_empty_table_says_so(db):
    table = ProjectTable(Project.objects.none())
    table.paginate(per_page=25)
    assert str(table.rows_html()) == '<tr><td colspan="6">Nothing to show.</td></tr>'


#: What the pages rendered for a table before ``BaseTable.html``: export links, then django-tables2's template
#: (what ``{% render_table %}`` renders) with the rows from ``rows_html`` (compared cell by cell above).
DJANGO_TABLES2_PAGE = Template(
    '{% extends "django_tables2/table.html" %}{% load i18n %}'
    '{% block table-wrapper %}<div class="table-tools">{% translate "Export" %}:'
    " <a href=\"{% querystring _export='csv' _table=table.export_name %}\">CSV</a>"
    " <a href=\"{% querystring _export='xlsx' _table=table.export_name %}\">XLSX</a></div>"
    "{{ block.super }}{% endblock table-wrapper %}"
    "{% block table.tbody %}<tbody>{{ table.rows_html }}</tbody>{% endblock table.tbody %}"
)


def assert_table_is_django_tables2s(table: BaseTable, query: str, *, page: int = 1, per_page: int = 25) -> str:
    request = RequestFactory().get("/somewhere/" + query)
    table.request = request
    table.paginate(paginator_class=LazyPaginator, per_page=per_page, page=page)
    ours = str(table.html())
    assertHTMLEqual(ours, DJANGO_TABLES2_PAGE.render(RequestContext(request, {"table": table})))
    # rows_html reads the language and URL prefix once for all its cells: the same cells as read one by one.
    for row in table.paginated_rows:
        cells = table.cells(row.record)
        assert "".join(f"{cells[column.name]}</td>" for column in table.columns) in re.sub(r"<td[^>]*>", "", ours)
    return ours


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_sorted_middle_page_is_what_django_tables2_renders(rows, language):
    for number in range(8):
        ProjectFactory(code=f"X{number}", name=f"Extra <{number}>")
    table = ProjectTable(Project.objects.select_related("department"))
    table.order_by = ("-name",)
    with override(language):
        html = assert_table_is_django_tables2s(table, "?q=a+b&status=active&sort=-name&page=2", page=2, per_page=3)
    assert 'class="pagination"' in html and 'class="previous"' in html and 'class="next"' in html
    assert "sort=name" in html and "page=3" in html  # the header turns the order round; the pager keeps it


def test_a_prefixed_table_of_a_page_with_several_is_what_django_tables2_renders(rows):
    table = AssignmentTable(Assignment.objects.with_related(), prefix="team-", exclude=("target",))
    table.export_name = "team"
    table.order_by = ("role",)
    html = assert_table_is_django_tables2s(table, "?team-sort=role&as_of=2024-01-01&_table=past&past-page=2")
    assert html.count("_table=team") == 2  # the CSV and XLSX links name this table, not the one asked before
    assert "pagination" not in html  # one page: no pager


def test_an_empty_table_without_a_name_is_what_django_tables2_renders(db):
    table = DepartmentTable(Department.objects.none())
    html = assert_table_is_django_tables2s(table, "?_table=stale&x=%3Cy%3E")
    assert html.count("_table=stale") == 3 and "Nothing to show." in html  # in the sort links, not the exports


def test_hiding_a_column_of_one_table_leaves_the_class_and_other_tables_alone(db):
    one = ProjectTable(Project.objects.none())
    one.columns.hide("name")
    assert "name" not in one.shown
    assert "name" in ProjectTable(Project.objects.none()).shown
    assert ProjectTable.base_columns["name"].visible

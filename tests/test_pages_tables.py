"""The staff tables' own row rendering (``BaseTable.cells``) shows exactly what django-tables2 would.

The pages render rows from ``cells`` for speed; django-tables2 still defines
the columns, their order and visibility, sorting and exports. Each cell is
compared with django-tables2's rendering of the same column, so a column
added or changed on one side and not the other fails here.
"""

from __future__ import annotations

import datetime

import pytest
from django.utils.html import conditional_escape
from django.utils.translation import override

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

"""Every export of the staff pages, CSV and XLSX, with text a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import datetime
import email.message
import io

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from org import views
from org.models import Level
from tests.factories import AssignmentFactory, DepartmentFactory, EmployeeFactory, ProjectFactory, RoleFactory

pytestmark = pytest.mark.django_db

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("http://evil.example","x")'


@pytest.fixture
def hostile():
    """Names, titles and roles that start like formulas, on every table a page exports."""
    today = timezone.localdate()
    days = datetime.timedelta
    evil = DepartmentFactory(code="EVL", name="-Evil department")  # no head: a gap
    project = ProjectFactory(code="ZZZ", name="=1+1", department=evil)  # nobody Accountable: a gap
    risky, other = RoleFactory(name="-Risky role"), RoleFactory(name="@Other role")
    mallory = EmployeeFactory(
        employee_number="E9003", first_name=HYPERLINK, last_name="+Cmd", job_title="@SUM(1+1)", department=evil
    )
    # 60 % + 60 %: over 100 %, a gap.
    AssignmentFactory(employee=mallory, role=risky, project=project, allocation=60, start_date=today - days(30))
    AssignmentFactory(employee=mallory, role=other, project=project, allocation=60, start_date=today - days(30))
    AssignmentFactory(
        employee=mallory, role=risky, project=project, start_date=today - days(400), end_date=today - days(100)
    )
    AssignmentFactory(employee=mallory, role=other, project=project, start_date=today + days(30))
    EmployeeFactory(employee_number="E9004", first_name="-x", last_name="+y", job_title="=idle", department=evil)
    leaver = EmployeeFactory(
        employee_number="E9005",
        first_name="\tTab",
        last_name="Leaver",
        job_title="\rtitle",
        department=evil,
        leave_date=today - days(10),
    )
    AssignmentFactory(employee=leaver, role=risky, project=None, department=evil, level=Level.CONSULTED)
    return project


def cells(response) -> list[list]:
    """Every row of an exported file, the header first; for XLSX, after checking that no cell is a formula."""
    assert response.status_code == 200
    if response["Content-Type"].startswith("text/csv"):
        return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert [cell.coordinate for row in sheet.iter_rows() for cell in row if cell.data_type == "f"] == []
    return [list(row) for row in sheet.values]


def assert_safe(rows: list[list]) -> None:
    unsafe = [value for row in rows for value in row if isinstance(value, str) and value.startswith(FORMULA_STARTS)]
    assert unsafe == []


EXPORTS = {
    "employees": ("org:employees", None, {"q": "E900"}),
    "responsible": ("org:responsible", None, {"q": "E9003"}),
    "responsible leaver": ("org:responsible", None, {"q": "E9005"}),
    "projects": ("org:projects", None, {"q": "ZZZ"}),
    "project team": ("org:project", "ZZZ", {"_table": "team"}),
    "project past": ("org:project", "ZZZ", {"_table": "past"}),
    "project future": ("org:project", "ZZZ", {"_table": "future"}),
    "project matrix": ("org:project", "ZZZ", {"_table": "matrix"}),
    "department members": ("org:department", "EVL", {"_table": "members"}),
    "department projects": ("org:department", "EVL", {"_table": "projects"}),
    "employee current": ("org:employee", "E9003", {"_table": "current"}),
    "employee past": ("org:employee", "E9003", {"_table": "past"}),
    "employee future": ("org:employee", "E9003", {"_table": "future"}),
    **{f"gap {kind}": ("org:gap", kind, {}) for kind in views.GAPS},
}


@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
@pytest.mark.parametrize("export", EXPORTS)
def test_no_export_lets_a_formula_through(viewer_client, hostile, export, export_format):
    name, arg, params = EXPORTS[export]
    response = viewer_client.get(reverse(name, args=[arg] if arg else []), {**params, "_export": export_format})
    rows = cells(response)
    assert len(rows) > 1 or export == "gap assignments-ending"  # the only gap these rows do not fill
    assert_safe(rows)


@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_formulas_come_out_as_text_with_an_apostrophe(viewer_client, hostile, export_format):
    employees = cells(viewer_client.get(reverse("org:employees"), {"q": "E9003", "_export": export_format}))
    header, row = employees
    assert row[header.index("Name")] == f"'{HYPERLINK} +Cmd"
    assert row[header.index("Job title")] == "'@SUM(1+1)"
    assert row[header.index("Home department")] == "'-Evil department (EVL)"

    responsible = cells(viewer_client.get(reverse("org:responsible"), {"q": "E9003", "_export": export_format}))
    assert {row[responsible[0].index("Role")] for row in responsible[1:]} == {"'-Risky role", "'@Other role"}
    # Numbers stay numbers (an XLSX number cell; digits in CSV).
    assert {row[responsible[0].index("Allocation %")] for row in responsible[1:]} == (
        {60} if export_format == "xlsx" else {"60"}
    )

    project = reverse("org:project", args=["ZZZ"])
    matrix = cells(viewer_client.get(project, {"_table": "matrix", "_export": export_format}))
    assert matrix == [
        ["Person", "Employee number", "'-Risky role", "'@Other role"],
        [f"'{HYPERLINK} +Cmd", "E9003", "R", "R"],
    ]

    leavers = cells(viewer_client.get(reverse("org:gap", args=["leavers"]), {"_export": export_format}))
    assert leavers[1][leavers[0].index("Name")] == "'\tTab Leaver"


def test_an_xlsx_cell_with_a_control_character_is_spelt_as_excel_does(viewer_client, hostile):
    EmployeeFactory(employee_number="E9006", first_name="Bell\x07", last_name="Ringer")
    rows = cells(viewer_client.get(reverse("org:employees"), {"q": "E9006", "_export": "xlsx"}))
    assert rows[1][rows[0].index("Name")] == "Bell_x0007_ Ringer"


def test_an_xlsx_cell_whose_text_spells_an_error_stays_text(viewer_client, hostile):
    """openpyxl (so tablib) writes the text #N/A as an error cell: a spreadsheet shows an error, imports refuse it."""
    EmployeeFactory(employee_number="E9007", first_name="Ann", last_name="Error", job_title="#N/A")
    response = viewer_client.get(reverse("org:employees"), {"q": "E9007", "_export": "xlsx"})
    rows = cells(response)
    column = rows[0].index("Job title")
    assert rows[1][column] == "#N/A"
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet.cell(row=2, column=column + 1).data_type == "s"
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold


def test_negative_numbers_stay_numbers():
    """No page exports a negative number today; should one come, it is a number, not text with an apostrophe."""
    response = views._export_response("xlsx", "numbers", ["-Header", "n"], [["-text", -5], ["x", -1.5]])
    assert cells(response) == [["'-Header", "n"], ["'-text", -5], ["x", -1.5]]
    response = views._export_response("csv", "numbers", ["n"], [[-5]])
    assert cells(response) == [["n"], ["-5"]]


def download_name(response) -> str:
    """The file name a browser saves an export as (RFC 6266, with RFC 5987's ``filename*`` for non-ASCII)."""
    message = email.message.Message()
    message["Content-Disposition"] = response["Content-Disposition"]
    assert message.get_content_disposition() == "attachment"
    return message.get_filename()


@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_export_file_names_keep_any_code(viewer_client, export_format):
    department = DepartmentFactory(code="ÑÚ", name="Ñandú")
    project = ProjectFactory(code='Q"1;x', department=department)
    EmployeeFactory(employee_number="Ñ1", department=department)
    today = timezone.localdate().isoformat()
    response = viewer_client.get(
        reverse("org:department", args=["ÑÚ"]), {"_table": "members", "_export": export_format}
    )
    assert download_name(response) == f"department-ÑÚ-{today}-members.{export_format}"
    project_page = reverse("org:project", args=[project.code])
    for table in ("team", "matrix"):
        response = viewer_client.get(project_page, {"_table": table, "_export": export_format})
        assert download_name(response) == f'project-Q"1;x-{today}-{table}.{export_format}'
    response = viewer_client.get(reverse("org:employee", args=["Ñ1"]), {"_table": "current", "_export": export_format})
    assert download_name(response) == f"employee-Ñ1-{today}-current.{export_format}"


NOT_EXPORTED = "Nothing was exported: first correct the mistakes shown with the filters."
INVALID = {
    "responsible bad date": ("org:responsible", None, {"as_of": "abc"}, "as_of"),
    "responsible bad role": ("org:responsible", None, {"role": "nope"}, "role"),
    "employees bad department": ("org:employees", None, {"department": "zzz"}, "department"),
    "projects bad status": ("org:projects", None, {"status": "bogus"}, "status"),
    "project team": ("org:project", "ZZZ", {"as_of": "abc", "_table": "team"}, "as_of"),
    "project matrix": ("org:project", "ZZZ", {"as_of": "2024-13-01", "_table": "matrix"}, "as_of"),
    "department members": ("org:department", "EVL", {"as_of": "abc", "_table": "members"}, "as_of"),
    "employee current": ("org:employee", "E9003", {"as_of": "abc", "_table": "current"}, "as_of"),
}


@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
@pytest.mark.parametrize("export", INVALID)
def test_an_export_with_a_mistake_in_the_filters_is_the_page_and_its_messages(
    viewer_client, hostile, export, export_format
):
    """Not a file of today's rows, or of none, under a name that says otherwise."""
    name, arg, params, field = INVALID[export]
    response = viewer_client.get(reverse(name, args=[arg] if arg else []), {**params, "_export": export_format})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in response
    assert NOT_EXPORTED in [str(problem) for problem in response.context["problems"]]
    form = response.context["as_of_form"] if "as_of_form" in response.context else response.context["filter"].form
    assert field in form.errors
    assert NOT_EXPORTED in response.content.decode()


@pytest.mark.parametrize(
    ("name", "arg", "params"),
    [
        ("org:responsible", None, {}),
        ("org:employees", None, {}),
        ("org:gap", "unassigned", {}),
        ("org:project", "ZZZ", {"_table": "team"}),
        ("org:project", "ZZZ", {"_table": "matrix"}),
    ],
)
@pytest.mark.parametrize("export_format", ["ods", "xls", "json", "pdf"])
def test_an_export_in_a_format_there_is_none_in_is_a_message(viewer_client, hostile, name, arg, params, export_format):
    response = viewer_client.get(reverse(name, args=[arg] if arg else []), {**params, "_export": export_format})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert [str(problem) for problem in response.context["problems"]] == [
        f"There is no export as “{export_format}”; the tables export as CSV or XLSX."
    ]

"""import_org for each kind in ProjMan's own columns: creates, updates, leaves alone, writes history, dry runs."""

from __future__ import annotations

import csv
import datetime
import io
import re

import pytest
from openpyxl import Workbook

from org import services
from org.models import Assignment, Department, Employee, Level, Project, ProjectStatus, Role
from tests.factories import EmployeeFactory
from tests.imports import EXAMPLES, export, import_fails, import_ok, load_examples, rewritten, snapshot, workbook, write

D = datetime.date
pytestmark = pytest.mark.django_db


def test_the_examples_import_in_order_with_a_history_record_for_every_row():
    load_examples()

    assert Department.objects.get(code="PLT").parent.code == "ENG"
    assert Department.objects.get(code="OPS").active is False
    bob = Employee.objects.get(employee_number="E002")
    assert (bob.manager.employee_number, bob.department.code, bob.hire_date) == ("E001", "PLT", D(2019, 6, 15))
    assert Employee.objects.get(employee_number="E003").hire_date == D(2020, 9, 1)  # day-first date
    assert Project.objects.get(code="WEB").status == ProjectStatus.ON_HOLD
    assert Role.objects.get(name="Project Manager").single_holder is True
    sponsor = Assignment.objects.get(role__name="Sponsor")
    assert sponsor.level == Level.CONSULTED
    assert Assignment.objects.get(employee__employee_number="E003", role__name="Project Manager").level == "A"
    for model in (Department, Employee, Project, Role, Assignment):
        assert model.history.filter(history_type="+").count() == model.objects.count() > 0
        assert set(model.history.values_list("history_change_reason", flat=True)) == {
            f"import_org {model._meta.verbose_name_plural} {model._meta.verbose_name_plural}.csv"
        }


def test_importing_the_same_file_again_writes_nothing_and_says_so():
    load_examples()
    before = snapshot()

    for kind in ("departments", "roles", "employees", "projects", "assignments"):
        output = import_ok(kind, EXAMPLES / f"{kind}.csv")
        assert "0 created, 0 updated" in output
        assert "Nothing to change" in output
    assert snapshot() == before


def test_a_changed_row_is_updated_in_place_with_a_change_record(tmp_path):
    load_examples()
    bob = Employee.objects.get(employee_number="E002")
    path = write(
        tmp_path,
        "employee_number,first_name,last_name,work_email,job_title,department\n"
        "E002,Bob,Smith,BOB.SMITH@projman.example,Staff Engineer,DAT\n"
        "E001,Ana,García,ana.garcia@projman.example,CTO,ENG\n",
    )

    output = import_ok("employees", path)

    assert "employees: 0 created, 1 updated, 1 unchanged" in output
    bob.refresh_from_db()
    assert (bob.job_title, bob.department.code, bob.pk) == ("Staff Engineer", "DAT", bob.pk)
    assert bob.manager.employee_number == "E001"  # no manager column: left as it was
    change = bob.history.latest()
    assert change.history_type == "~"
    assert change.job_title == "Staff Engineer"
    assert change.manager_id == bob.manager_id  # the history row is the whole row, not just the changed fields


def test_keys_match_whatever_their_case_however_small_the_file(tmp_path):
    """A code, number or name in another case is the stored row, alone in a file as among many (SQLite compares
    text with regard to case, MariaDB's collation does not: the answer is the same on both)."""
    load_examples()
    departments = Department.objects.count()

    import_ok("departments", write(tmp_path, "code,name\neng,Engineering and more\n"))
    import_ok(
        "employees",
        write(
            tmp_path,
            "employee_number,first_name,last_name,work_email,manager\ne002,Bob,Smith,bob.smith@projman.example,e001\n",
        ),
    )
    import_ok(
        "assignments", write(tmp_path, "employee,role,department,level,start_date\ne002,sponsor,eng,C,2025-01-01\n")
    )

    assert Department.objects.count() == departments
    assert Department.objects.get(code="ENG").name == "Engineering and more"
    bob = Employee.objects.get(employee_number="E002")
    assert bob.manager.employee_number == "E001"
    assert Assignment.objects.get(role__name="Sponsor", department__code="ENG", start_date="2025-01-01").employee == bob


def test_work_emails_may_move_between_employees_in_one_file(tmp_path):
    """Addresses are unique, yet two people may swap theirs, and a new hire may take the address of someone who
    gets another in the same file: each row is checked against what the file leaves, and so is it written."""
    load_examples()
    path = write(
        tmp_path,
        "employee_number,first_name,last_name,work_email\n"
        "E001,Ana,García,bob.smith@projman.example\n"
        "E002,Bob,Smith,ana.garcia@projman.example\n"
        "E900,Carla,Pérez,carla.perez@projman.example\n"
        "E003,Carla,Pérez,carla.p@projman.example\n",
    )

    assert "employees: 1 would be created, 3 would be updated" in import_ok("employees", path, "--dry-run")
    output = import_ok("employees", path)

    assert "employees: 1 created, 3 updated" in output
    emails = dict(Employee.objects.values_list("employee_number", "work_email"))
    assert (emails["E001"], emails["E002"]) == ("bob.smith@projman.example", "ana.garcia@projman.example")
    assert (emails["E900"], emails["E003"]) == ("carla.perez@projman.example", "carla.p@projman.example")
    # The history holds each employee's new address, and nothing of the way there.
    assert Employee.history.filter(employee_number="E002").latest().work_email == "ana.garcia@projman.example"
    assert not Employee.history.filter(work_email__contains="invalid").exists()
    assert "Nothing to change" in import_ok("employees", path)


def test_an_empty_cell_where_there_is_a_default_keeps_what_is_stored_and_gives_a_new_row_the_default(tmp_path):
    """An HR file with blanks in the status, active, level… columns does not reset stored rows to the defaults."""
    load_examples()
    import_ok("departments", write(tmp_path, "code,name,active\nFIN,Finance,no\n", "off.csv"))

    import_ok("departments", write(tmp_path, "code,name,active\nFIN,Finance,\nNEW,New,\n", "d.csv"))
    import_ok("projects", write(tmp_path, "code,name,department,status\nERP,ERP migration,FIN,\nNXT,Next,ENG,\n"))
    import_ok("roles", write(tmp_path, "name,applies_to,default_level,single_holder\nProject Manager,,,\n", "r.csv"))
    output = import_ok(
        "assignments", write(tmp_path, "employee,role,project,level,start_date\nE004,Sponsor,ERP,,2024-01-01\n")
    )

    assert dict(Department.objects.filter(code__in=["FIN", "NEW"]).values_list("code", "active")) == {
        "FIN": False,
        "NEW": True,
    }
    assert dict(Project.objects.filter(code__in=["ERP", "NXT"]).values_list("code", "status")) == {
        "ERP": ProjectStatus.ACTIVE,
        "NXT": ProjectStatus.PROPOSED,
    }
    manager = Role.objects.get(name="Project Manager")
    assert (manager.applies_to, manager.default_level, manager.single_holder) == ("project", Level.ACCOUNTABLE, True)
    assert "assignments: 0 created, 0 updated, 1 unchanged" in output
    assert Assignment.objects.get(employee__employee_number="E004", role__name="Sponsor").level == Level.CONSULTED


def test_dry_run_counts_what_would_change_and_writes_nothing(tmp_path):
    load_examples()
    path = write(
        tmp_path,
        "code,name,parent\nENG,Engineering and Research,\nNEW,New department,ENG\nFIN,Finance,\n",
    )
    before = snapshot()

    output = import_ok("departments", path, "--dry-run")

    assert "departments: 1 would be created, 1 would be updated, 1 unchanged" in output
    assert "Dry run: nothing was written." in output
    assert snapshot() == before


def test_rows_may_point_to_rows_further_down_the_same_file(tmp_path):
    path = write(
        tmp_path,
        "code;name;parent\nC;Leaf;B\nB;Middle;A\nA;Top;\n",  # semicolons, children before parents
    )

    import_ok("departments", path)

    assert Department.objects.get(code="C").parent.parent.code == "A"
    assert Department.objects.get(code="A").parent is None


def test_employees_may_name_a_manager_defined_later_in_the_file(tmp_path, department):
    path = write(
        tmp_path,
        "employee_number,first_name,last_name,work_email,department,manager\n"
        "E3,Cat,Three,c@x.example,FIN,E2\nE2,Bo,Two,b@x.example,FIN,E1\nE1,Al,One,a@x.example,FIN,\n",
    )

    import_ok("employees", path)

    assert Employee.objects.get(employee_number="E3").manager.manager.employee_number == "E1"


def test_projects_and_roles_by_label_or_value_in_any_case(tmp_path, department):
    roles = write(tmp_path, "Name,Applies To,Default Level,Single Holder\nLead,PROJECT,accountable,Yes\n", "r.csv")
    projects = write(tmp_path, "CODE,Name,Department,Status\nX1,Thing,FIN,On hold\n", "p.csv")

    import_ok("roles", roles)
    import_ok("projects", projects)

    lead = Role.objects.get(name="Lead")
    assert (lead.applies_to, lead.default_level, lead.single_holder) == ("project", "A", True)
    assert Project.objects.get(code="X1").status == ProjectStatus.ON_HOLD


def test_assignments_take_the_roles_default_level_and_can_be_ended_by_a_later_file(tmp_path):
    load_examples()
    path = write(
        tmp_path,
        "employee,role,project,start_date,end_date\nE003,Project Manager,ERP,2024-07-01,2025-03-31\n",
    )

    output = import_ok("assignments", path)

    assert "assignments: 0 created, 1 updated, 0 unchanged" in output
    held = Assignment.objects.get(employee__employee_number="E003", role__name="Project Manager")
    assert held.end_date == D(2025, 3, 31)
    assert held.allocation == 50  # no allocation column: kept
    assert held.history.latest().history_type == "~"


def test_xlsx_with_dates_as_cells_imports_like_csv(tmp_path, department):

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Employee Number", "First Name", "Last Name", "Work Email", "Department", "Hire Date"])
    sheet.append([1001, "Ana", "López", "ana@x.example", "FIN", datetime.datetime(2021, 4, 5)])
    workbook.save(tmp_path / "people.xlsx")

    import_ok("employees", tmp_path / "people.xlsx")

    ana = Employee.objects.get(employee_number="1001")  # a number cell, read as its digits
    assert ana.hire_date == D(2021, 4, 5)


def test_an_xlsx_moment_with_a_time_of_day_is_refused_at_its_cell(tmp_path, department):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Employee Number", "First Name", "Last Name", "Work Email", "Department", "Hire Date"])
    sheet.append([1001, "Ana", "López", "ana@x.example", "FIN", datetime.datetime(2021, 4, 5, 23, 0)])
    workbook.save(tmp_path / "people.xlsx")

    report = import_fails("employees", tmp_path / "people.xlsx")

    assert report == (
        "people.xlsx: row 2, column F (Hire Date): '2021-04-05 23:00:00' holds a time of day as well as a date;"
        " expected a date alone (YYYY-MM-DD or DD/MM/YYYY): a time may stand for another day where the file was"
        " written.\n"
    )
    assert not Employee.objects.filter(employee_number="1001").exists()


def test_a_workbook_that_declares_itself_narrower_than_its_data_is_read_whole(tmp_path, department):
    """Spreadsheet programs ignore the size a sheet declares (<dimension>); so does the reader."""

    rows = [["employee_number", "first_name", "last_name", "work_email", "hire_date", "leave_date"]]
    rows.append(["E1", "Ana", "López", "ana@x.example", "2020-01-01", "2019-01-01"])
    narrow = workbook(rows, damage=("xl/worksheets/sheet1.xml", lambda b: b.replace(b'ref="A1:F2"', b'ref="A1"')))
    path = tmp_path / "narrow.xlsx"
    path.write_bytes(narrow)

    report = import_fails("employees", path)

    assert (
        report
        == "narrow.xlsx: row 2, column F (leave_date): The leave date 2019-01-01 is before the hire date 2020-01-01.\n"
    )


def test_xlsx_percentages_are_read_as_shown(tmp_path):
    """A cell showing 100% holds 1 and one showing 50% holds 0.5: they are read as the spreadsheet shows them."""

    load_examples()
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["employee", "role", "project", "level", "start_date", "allocation"])
    sheet.append(["E001", "Advisor", "ERP", "C", datetime.date(2025, 1, 1), 1])
    sheet.append(["E004", "Advisor", "WEB", "C", datetime.date(2025, 1, 1), 0.5])
    sheet.append(["E003", "Advisor", "WEB", "C", datetime.date(2025, 1, 1), 30])  # a plain number stays itself
    sheet.append(["E002", "Advisor", "ERP", "C", datetime.date(2025, 1, 1), 40])  # a % shown, not a percentage
    for row in sheet.iter_rows(min_row=2, max_row=3, min_col=6, max_col=6):
        row[0].number_format = "0%"
    sheet["F5"].number_format = '0"%"'

    workbook.save(tmp_path / "allocations.xlsx")

    import_ok("assignments", tmp_path / "allocations.xlsx")

    advisors = Assignment.objects.filter(role__name="Advisor", start_date=D(2025, 1, 1))
    allocation = dict(advisors.values_list("employee__employee_number", "allocation"))
    assert allocation == {"E001": 100, "E004": 50, "E003": 30, "E002": 40}


# (stored number, number format, what a spreadsheet shows and the import reads)
SHOWN_AS = [
    (7, "000", "007"),
    (7, '"E"000', "E007"),
    (7, "\\D000", "D007"),
    (7, "0000_ ", "0007"),
    (8, "0000;-0000", "0008"),
    (7, "00000;[Red]-00000", "00007"),
    (7, "[<=9999]000000;General", "000007"),
    (123456, "[<=9999]0000;General", "123456"),
    (7, '0000 "x"', "0007 x"),
    (1234, "#,##0", "1,234"),
    (1234, "00-00", "12-34"),
    (2.5, "0.00", "2.50"),
    (42, '"$"#,##0_);\\("$"#,##0\\)', "$42"),
    (-42, '"$"#,##0_);\\("$"#,##0\\)', "($42)"),
    (1234567, '#,##0,,"M"', "1M"),
    (0.25, "0.0%", "25.0%"),
    (5, "[$€-407] 0", "€ 5"),
    (5, "@", "5"),
]


def test_xlsx_numbers_are_read_as_their_format_shows_them(tmp_path):
    """A code typed as 7 in a cell formatted "E"000 shows as E007: read as stored it would name another row."""
    book = Workbook()
    book.active.append(["code", "name"])
    for k, (number, number_format, _shown) in enumerate(SHOWN_AS, start=2):
        book.active.append([number, f"Department {k}"])
        book.active.cell(k, 1).number_format = number_format
    book.save(tmp_path / "departments.xlsx")

    import_ok("departments", tmp_path / "departments.xlsx")

    codes = dict(Department.objects.values_list("name", "code"))
    assert [codes[f"Department {k}"] for k in range(2, len(SHOWN_AS) + 2)] == [shown for *_, shown in SHOWN_AS]


def test_xlsx_numbers_in_a_format_the_import_does_not_read_are_refused(tmp_path):
    load_examples()
    book = Workbook()
    book.active.append(["employee", "role", "project", "level", "start_date", "allocation"])
    book.active.append(["E002", "Advisor", "ERP", "C", datetime.date(2025, 1, 1), 50])
    book.active.append(["E003", "Advisor", "WEB", "C", datetime.date(2025, 1, 1), 0.5])
    book.active.append(["E004", "Advisor", "WEB", "C", datetime.date(2025, 1, 1), 0.333])
    book.active["F2"].number_format = "0.00E+00"
    book.active["F3"].number_format = "# ?/?"
    book.active["F4"].number_format = "0%"  # shows 33%: read as shown
    book.save(tmp_path / "assignments.xlsx")
    before = snapshot()

    report = import_fails("assignments", tmp_path / "assignments.xlsx")

    assert report == (
        "assignments.xlsx: row 2, column F (allocation): The cell shows its number 50 in the format 0.00E+00, which"
        " the import does not read; format the cell as text and type the value as it should be read.\n"
        "assignments.xlsx: row 3, column F (allocation): The cell shows its number 0.5 in the format # ?/?, which"
        " the import does not read; format the cell as text and type the value as it should be read.\n"
    )
    assert snapshot() == before


def test_workbook_cells_without_a_value_are_refused_where_they_are_read(tmp_path):
    """A formula no spreadsheet calculated has no result in the file, and read as empty it would clear what is
    stored; an error such as #N/A would be read as text. Each is refused at its cell and nothing is written. A
    calculated formula is read as its result, an empty one included."""

    load_examples()
    rows = [
        ["name", "description", "default_level"],
        ["Team Member", '=A2&" of the department"', "R"],
        ["Developer", "#N/A", "R"],
        ["Advisor", '=UPPER("gives advice")', "C"],
        ["Sponsor", '=""', "A"],
        ["#REF!"],  # a row of errors only is no blank row
        ["Mentor", '="x"', "C"],
    ]
    calculated = (  # as a spreadsheet saves them: the result beside the formula
        (
            b'<c r="B4"><f>UPPER("gives advice")</f><v /></c>',
            b'<c r="B4" t="str"><f>UPPER("gives advice")</f><v>GIVES ADVICE</v></c>',
        ),
        (b'<c r="B5"><f>""</f><v /></c>', b'<c r="B5" t="str"><f>""</f><v></v></c>'),
        (b'<c r="B7"><f>"x"</f><v /></c>', b'<c r="B7" t="str"><f>"x"</f></c>'),  # a text formula, no result saved
    )

    def calculate(xml: bytes) -> bytes:
        for formula, result in calculated:
            assert formula in xml
            xml = xml.replace(formula, result)
        return xml

    path = tmp_path / "roles.xlsx"
    path.write_bytes(workbook(rows, damage=("xl/worksheets/sheet1.xml", calculate)))
    before = snapshot()

    report = import_fails("roles", path)

    assert report == (
        "roles.xlsx: row 2, column B (description): The cell holds a formula whose result is not saved in the file (a "
        "program wrote it, no spreadsheet calculated it); open the file in a spreadsheet program and save it, or "
        "replace the formula by its value.\n"
        "roles.xlsx: row 3, column B (description): The cell shows the spreadsheet error #N/A, not a value; correct "
        "its formula.\n"
        "roles.xlsx: row 6, column A (name): The cell shows the spreadsheet error #REF!, not a value; correct its "
        "formula.\n"
        "roles.xlsx: row 7, column B (description): The cell holds a formula whose result is not saved in the file (a "
        "program wrote it, no spreadsheet calculated it); open the file in a spreadsheet program and save it, or "
        "replace the formula by its value.\n"
    )
    assert snapshot() == before

    rows[1:3] = [["Team Member", "A member of the department", "R"], ["Developer", "", "R"]]  # as stored
    rows[5:] = [[], ["Mentor", "", "C"]]
    calculated = calculated[:2]
    path.write_bytes(workbook(rows, damage=("xl/worksheets/sheet1.xml", calculate)))
    import_ok("roles", path)

    assert Role.objects.get(name="Advisor").description == "GIVES ADVICE"
    assert Role.objects.get(name="Sponsor").description == ""


def test_a_sheet_written_by_another_tool_is_read_as_a_spreadsheet_shows_it(tmp_path):
    """Namespace prefixes, rows and cells without references, a lower-case reference, cells out of order, rich text
    with a reading guide: what other programs write is read as the spreadsheet shows it."""

    def inline(text: str) -> str:
        return f'<x:c t="inlineStr"><x:is><x:t>{text}</x:t></x:is></x:c>'

    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>'
        f"<x:row>{inline('name')}{inline('description')}</x:row>"
        f"<x:row>{inline('Coach')}"
        '<x:c t="inlineStr"><x:is><x:r><x:t xml:space="preserve">Helps </x:t></x:r><x:r><x:rPr><x:b/></x:rPr>'
        '<x:t>people &amp; teams</x:t></x:r><x:rPh sb="0" eb="1"><x:t>ヘルプ</x:t></x:rPh></x:is></x:c></x:row>'
        f'<x:row r="5"><x:c r="a5" t="inlineStr"><x:is><x:t>Mentor</x:t></x:is></x:c>{inline("Guides")}</x:row>'
        '<x:row r="6.0"><x:c r="B6" t="inlineStr"><x:is><x:t>Trains</x:t></x:is></x:c>'  # cells out of order
        '<x:c r="A6" t="inlineStr"><x:is><x:t>Trainer</x:t></x:is></x:c></x:row>'
        "</x:sheetData></x:worksheet>"
    ).encode()
    path = tmp_path / "other.xlsx"
    path.write_bytes(workbook([["placeholder"]], damage=("xl/worksheets/sheet1.xml", lambda _: sheet)))

    import_ok("roles", path)

    assert Role.objects.get(name="Coach").description == "Helps people & teams"
    assert Role.objects.get(name="Mentor").description == "Guides"
    assert Role.objects.get(name="Trainer").description == "Trains"


def test_a_workbook_is_read_as_its_sheet_shows_it(tmp_path):
    """The first sheet shown (a hidden one before it holds lookups), employee numbers shown with leading zeros, a
    date shown without its time, a manager merged down two rows: each read as the spreadsheet shows it."""

    load_examples()
    book = Workbook()
    lookups = book.active
    lookups.title, lookups.sheet_state = "Lookups", "hidden"
    lookups.append(["ENG", "Engineering"])
    staff = book.create_sheet("Staff")
    staff.append(["employee_number", "first_name", "last_name", "work_email", "manager", "hire_date"])
    staff.append([42, "Ana", "López", "ana@x.example", "E001", datetime.datetime(2023, 3, 15, 2, 57)])
    staff.append([43, "Bo", "Ng", "bo@x.example", None, datetime.date(2024, 1, 2)])
    for row in (2, 3):
        staff.cell(row, 1).number_format = "00000"
    staff["F2"].number_format = "dd/mm/yyyy"
    staff.merge_cells("E2:E3")
    staff["G1"], staff["G2"] = "job_title", "Developer"
    staff.merge_cells("G2:H2")  # across columns: fills nothing beyond the last named column
    book.save(tmp_path / "staff.xlsx")

    import_ok("employees", tmp_path / "staff.xlsx")

    ana, bo = Employee.objects.filter(employee_number__in=["00042", "00043"]).order_by("employee_number")
    assert (ana.hire_date, ana.manager.employee_number) == (D(2023, 3, 15), "E001")
    assert (bo.hire_date, bo.manager.employee_number) == (D(2024, 1, 2), "E001")
    assert ana.job_title == "Developer"


def test_a_number_format_the_styles_do_not_define_is_general(tmp_path):

    rows = [["name", "description"], ["Coach", 1.5]]

    def lose_formats(styles: bytes) -> bytes:
        assert b"<numFmts" in styles
        return re.sub(rb"<numFmts.*?</numFmts>", b"", styles, flags=re.S)

    book = Workbook()
    book.active.append(rows[0])
    book.active.append(rows[1])
    book.active["B2"].number_format = "0.000"
    saved = io.BytesIO()
    book.save(saved)
    path = tmp_path / "lost.xlsx"
    path.write_bytes(rewritten(saved.getvalue(), "xl/styles.xml", lose_formats))

    import_ok("roles", path)

    assert Role.objects.get(name="Coach").description == "1.5"


def test_what_a_sheet_cannot_show_is_refused(tmp_path):
    """A negative number formatted as a date shows as ##### in a spreadsheet; an error beyond the last named column
    is a value there like any other."""

    load_examples()
    book = Workbook()
    book.active.append(["code", "name", "department", "start_date"])
    book.active.append(["P9", "Nine", "ENG", -3, None, "#N/A"])
    book.active["D2"].number_format = "yyyy-mm-dd"
    book.save(tmp_path / "projects.xlsx")
    before = snapshot()

    report = import_fails("projects", tmp_path / "projects.xlsx")

    assert report == (
        "projects.xlsx: row 2, column D (start_date): The cell is formatted as a date, but -3 is no date; enter the "
        "date again.\n"
        "projects.xlsx: row 2, column F: A value beyond the last named column.\n"
    )
    assert snapshot() == before


def test_a_workbook_whose_last_cell_is_far_away_is_read_as_stored(tmp_path, department):
    """A few kilobytes can declare a sheet of a million rows and 16,384 columns (a stray cell at XFD1048576): the
    rows are read as stored, not padded to that size, and cells right of column IV are not read."""

    book = Workbook()
    book.active.append(["name", "description"])
    book.active.append(["Coach", "Helps"])
    book.active["XFD1048576"] = "stray"
    path = tmp_path / "far.xlsx"
    book.save(path)

    output = import_ok("roles", path)

    assert "roles: 1 created" in output
    assert Role.objects.get(name="Coach").description == "Helps"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1"])
def test_encodings_are_detected(tmp_path, encoding, department):
    path = write(
        tmp_path,
        "employee_number,first_name,last_name,work_email,department\nE9,Iñigo,Muñoz Ibáñez,i@x.example,FIN\n",
        encoding=encoding,
    )

    import_ok("employees", path)

    assert Employee.objects.get(employee_number="E9").last_name == "Muñoz Ibáñez"


def test_an_encoding_can_be_chosen(tmp_path, department):
    content = "employee_number,first_name,last_name,work_email,department\nE9,Zoë,Œuvre,z@x.example,FIN\n"
    path = write(tmp_path, content, encoding="cp1252")

    output = import_ok("employees", path, "--encoding", "cp1252")

    assert "cp1252" in output
    assert Employee.objects.get(employee_number="E9").last_name == "Œuvre"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_any_line_ending_and_a_cell_spanning_lines(tmp_path, newline):
    content = newline.join(["name,description", 'Coach,"Helps people,', 'one at a time"', "Mentor,", ""])

    import_ok("roles", write(tmp_path, content))

    assert Role.objects.get(name="Coach").description == f"Helps people,{newline}one at a time"
    assert Role.objects.filter(name="Mentor").exists()


def test_awkward_text_is_stored_exactly_as_in_the_file(tmp_path):
    """Quotes, backslashes, percent signs, line breaks and characters outside the BMP reach the database as they
    are: on MariaDB the values are written into the INSERT statement itself, escaped by the driver."""
    Department.objects.create(code="ENG", name="Engineering")
    names = [
        ("O'Brien", 'Say "hi"'),
        ("Back\\slash", "C:\\temp\\%s %d %%"),
        ("Multi\nline", "Tab\there"),
        ("Ñandú 😀", "Zoë \u2028 end"),
    ]
    content = io.StringIO()
    rows = csv.writer(content)
    rows.writerow(["employee_number", "first_name", "last_name", "work_email", "job_title", "department"])
    rows.writerows(
        [f"E{i}", first, "Last", f"e{i}@example.com", title, "ENG"] for i, (first, title) in enumerate(names)
    )
    import_ok("employees", write(tmp_path, content.getvalue()))

    stored = {e.employee_number: (e.first_name, e.job_title) for e in Employee.objects.all()}
    assert stored == {f"E{i}": pair for i, pair in enumerate(names)}
    history = {h.employee_number: (h.first_name, h.job_title) for h in Employee.history.all()}
    assert history == stored


@pytest.mark.parametrize(
    ("kind", "content", "where"),
    [
        ("departments", "code,name\nHR/1,Human resources\n", "row 2, column A (code)"),
        (
            "employees",
            "employee_number,first_name,last_name,work_email\nE1,Ana,Gómez,ana@example.com\nHR/0042,Bo,Li,bo@example.com\n",
            "row 3, column A (employee_number)",
        ),
        ("projects", "name,code,department\nERP,ERP/2,FIN\n", "row 2, column B (code)"),
        ("departments", "code,name\nOK,Fine\n..,Up one\n", "row 3, column A (code)"),
    ],
)
def test_a_slash_in_a_code_or_number_is_refused_at_its_cell(tmp_path, department, kind, content, where):
    """The staff pages' addresses hold codes and numbers (/employees/<number>/): a "/" in one broke them."""
    before = snapshot()
    problems = import_fails(kind, write(tmp_path, content))
    assert f"{where}: " in problems
    assert "would break the address of its page" in problems
    assert snapshot() == before


@pytest.mark.parametrize(
    ("rows", "also"),
    [
        ("Developer,department,true\n", []),
        ("Developer,department,true\nTester,nowhere,false\n", ["row 3, column B (applies_to)"]),
        ("Developer,department,true\nDeveloper,both,false\n", ["row 3, column A (name)"]),
    ],
    ids=["alone", "with a bad cell on another row", "with its key repeated"],
)
def test_a_role_change_the_assignments_on_record_would_break_is_refused_at_its_cells(
    tmp_path, project, ana, bob, developer_role, rows, also
):
    """As the admin's role form refuses it (org.services.role_problems): two people hold Developer on ERP, so it
    can neither apply to departments only nor have a single holder; whatever else the file gets wrong."""
    for person in (ana, bob):
        services.assignment_create(employee=person, role=developer_role, target=project, start_date=D(2025, 1, 1))
    before = snapshot()
    path = write(tmp_path, "name,applies_to,single_holder\n" + rows)

    problems = import_fails("roles", path).splitlines()

    where = [line.split(": ", 2)[1] for line in problems]
    assert where == ["row 2, column B (applies_to)", "row 2, column C (single_holder)", *also]
    assert "2 assignments of Developer are on projects, so it cannot apply to departments only" in problems[0]
    assert "overlap another holder on the same target, so it cannot have a single holder" in problems[1]
    assert snapshot() == before


def test_a_role_change_is_checked_on_its_row_when_another_of_its_cells_is_bad(tmp_path, project, ana, developer_role):
    services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2025, 1, 1))
    path = write(tmp_path, "name,applies_to,single_holder,default_level\nDeveloper,department,false,Boss\n")

    problems = import_fails("roles", path).splitlines()

    where = [line.split(": ", 2)[1] for line in problems]
    assert where == ["row 2, column B (applies_to)", "row 2, column D (default_level)"]


def test_a_role_change_the_assignments_on_record_allow_is_written(tmp_path, project, ana, developer_role, sponsor_role):
    services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2025, 1, 1))
    path = write(tmp_path, "name,applies_to,single_holder\nDeveloper,both,true\nSponsor,department,true\n")

    assert "roles: 0 created, 2 updated" in import_ok("roles", path)

    developer_role.refresh_from_db()
    assert (developer_role.applies_to, developer_role.single_holder) == ("both", True)


def test_keys_match_whatever_their_accents_as_the_database_and_the_admin_have_them(tmp_path, project, ana):
    """MariaDB's collation, and the admin on both databases (org.models.FoldedUnique), hold codes, numbers and names
    that differ only in case or accents as one: so does an import, on both databases, whether it reads the rows it
    names (a table larger than the file) or the whole table."""
    Department.objects.bulk_create(Department(code=f"X{i}", name=f"Other {i}") for i in range(5))
    equipe = Department.objects.create(code="EQUIPE", name="Team")
    Role.objects.create(name="Revisión", applies_to="both")
    Employee.objects.filter(pk=ana.pk).update(employee_number="É1")
    departments = Department.objects.count()

    assert "0 created, 1 updated" in import_ok("departments", write(tmp_path, "code,name\nÉQUIPE,Équipe\n"))
    import_ok(
        "employees",
        write(
            tmp_path, "employee_number,first_name,last_name,work_email,department\ne1,Ana,García,a@x.example,équipe\n"
        ),
    )
    import_ok("assignments", write(tmp_path, "employee,role,department,start_date\nE1,REVISION,Équipe,2025-01-01\n"))

    assert Department.objects.count() == departments
    equipe.refresh_from_db()
    assert (equipe.code, equipe.name) == ("EQUIPE", "Équipe")
    assert Employee.objects.get(pk=ana.pk).department == equipe
    assert Assignment.objects.get(department=equipe).role.name == "Revisión"


def test_a_ligature_matches_its_two_letters_as_the_database_has_them(tmp_path):
    """MariaDB's utf8mb4_unicode_ci reads Œ as OE (NFKD leaves it whole): a file's OEUVRE is the stored ŒUVRE,
    not a second department (SQLite) nor the database's bare "Duplicate entry" (MariaDB)."""
    oeuvre = Department.objects.create(code="ŒUVRE", name="Works")

    assert "0 created, 1 updated" in import_ok("departments", write(tmp_path, "code,name\nOEUVRE,Œuvres\n"))

    oeuvre.refresh_from_db()
    assert (Department.objects.count(), oeuvre.name) == (1, "Œuvres")


def test_a_mark_the_collation_ignores_makes_no_other_key(tmp_path):
    """A variation selector (U+FE0F) or a combining grapheme joiner is nothing to utf8mb4_unicode_ci: "ENG" with one
    is the stored ENG, and twice in a file a duplicate, not a second department the unique index would refuse."""
    load_examples()

    assert "0 created, 1 updated" in import_ok("departments", write(tmp_path, "code,name\nENG\ufe0f,Engineers\n"))
    assert Department.objects.get(code="ENG").name == "Engineers"
    problems = import_fails("departments", write(tmp_path, "code,name\nNEW,A\nNE\u034fW,B\n", "twice.csv"))
    assert problems.startswith("twice.csv: row 3, column A (code): Duplicate of row 2:")


def test_a_letter_the_database_tells_from_two_is_not_matched_with_them(tmp_path):
    """Æ is a letter of its own to utf8mb4_unicode_ci, not AE: two roles the database holds apart import and export
    as two, on either backend."""
    path = write(tmp_path, "name,description\nÆsir,Gods\nAEsir,Not gods\n")

    assert "roles: 2 created" in import_ok("roles", path)

    assert sorted(Role.objects.values_list("name", flat=True)) == ["AEsir", "Æsir"]
    assert "Nothing to change" in import_ok("roles", write(tmp_path, export("roles"), "again.csv"))


@pytest.mark.mariadb
def test_keys_the_database_collation_takes_for_one_are_named_on_their_rows_before_anything_is_written(tmp_path):
    """To utf8mb4_unicode_ci every emoji is one character and a hiragana word is its katakana twin: its unique index
    would refuse them with no row named, and a dry run would have counted them as new."""
    Role.objects.create(name="Dev 🚀")
    Role.objects.create(name="リーダー")
    path = write(tmp_path, "name,description\nDev 🐍,x\nりーだー,y\nOps 🌙,z\nOps 🌟,w\n", "roles.csv")
    before = snapshot()

    for args in ((), ("--dry-run",)):
        assert import_fails("roles", path, *args).splitlines() == [
            "roles.csv: row 2, column A (name): The database takes 'Dev 🐍' for the stored 'Dev 🚀': its collation"
            " does not tell them apart. Use the stored key, or one that differs by more.",
            "roles.csv: row 3, column A (name): The database takes 'りーだー' for the stored 'リーダー': its collation"
            " does not tell them apart. Use the stored key, or one that differs by more.",
            "roles.csv: row 5, column A (name): Duplicate of row 4: the database takes 'Ops 🌟' for 'Ops 🌙' there,"
            " which its collation does not tell apart; a key appears once in a file.",
        ]
    assert snapshot() == before


def test_two_rows_of_one_key_in_other_accents_are_a_duplicate_named_at_the_later_row(tmp_path):
    before = snapshot()

    problems = import_fails("departments", write(tmp_path, "code,name\nÉQUIPE,Équipe\nEquipe,Team\n")).splitlines()

    assert problems == [
        "file.csv: row 3, column A (code): Duplicate of row 2: 'Equipe' is 'ÉQUIPE' there, the same key whatever"
        " the case and accents; a key appears once in a file."
    ]
    assert snapshot() == before


def test_a_leave_date_ends_what_the_leaver_holds_on_that_day_as_the_admin_does(tmp_path):
    """Bob's Advisor role on WEB and his home-department stay run on: both end on his leave date, with their
    change in the audit trail; the Project Manager role he held until 2024-06-30 ended before, and stays so."""
    load_examples()
    import_ok("history", EXAMPLES / "history.csv")
    path = write(
        tmp_path,
        "employee_number,first_name,last_name,work_email,leave_date\nE002,Bob,Smith,bob.smith@projman.example,2025-03-31\n",
    )

    output = import_ok("employees", path)

    assert "employees: 0 created, 1 updated, 0 unchanged" in output
    assert "assignments: 0 created, 2 updated, 0 unchanged" in output
    held = Assignment.objects.filter(employee__employee_number="E002").order_by("start_date")
    assert [(a.role.name, a.end_date) for a in held] == [
        ("Team Member", D(2025, 3, 31)),
        ("Advisor", D(2025, 3, 31)),
        ("Project Manager", D(2024, 6, 30)),
    ]
    advisor = held.get(role__name="Advisor")
    assert advisor.history.latest().history_change_reason == (
        "Ended: Bob Smith left on 2025-03-31 (import_org employees file.csv)"
    )
    assert "Nothing to change" in import_ok("employees", path)


def test_departments_made_inactive_are_noted_with_what_still_relies_on_them(tmp_path):
    load_examples()
    path = write(tmp_path, "code,name,parent,active\nENG,Engineering,,no\nPLT,Platform,ENG,no\nFIN,Finance,,no\n")

    output = import_ok("departments", path, "--dry-run")

    notes = [line for line in output.splitlines() if line.startswith("note: ")]
    assert notes == [  # ENG's sub-department PLT closes with it; DAT stays active
        "note: Engineering (ENG) is inactive now but still has 1 assignment in force or to come, 1 employee at home"
        " there, 1 project not closed, 1 active sub-department; end or move them if it is closing.",
        "note: Platform (PLT) is inactive now but still has 1 employee at home there; end or move them if it is"
        " closing.",
        "note: Finance (FIN) is inactive now but still has 1 employee at home there, 1 project not closed; end or"
        " move them if it is closing.",
    ]
    assert "Nothing to change" not in import_ok("departments", path)
    assert not any(line.startswith("note: ") for line in import_ok("departments", path).splitlines())


def test_many_departments_made_inactive_are_noted_a_few_by_name(tmp_path):
    for i in range(7):
        EmployeeFactory(department=Department.objects.create(code=f"D{i}", name=f"Dept {i}"))
    path = write(tmp_path, "code,name,active\n" + "".join(f"D{i},Dept {i},no\n" for i in range(7)))

    notes = [line for line in import_ok("departments", path).splitlines() if line.startswith("note: ")]

    assert len(notes) == 6 and notes[0].startswith("note: Dept 0 (D0) is inactive now but still has 1 employee")
    assert notes[-1] == "note: … and 2 more departments made inactive that something still relies on."


def test_an_end_written_as_hr_systems_write_no_end_is_read_as_none_and_noted(tmp_path):
    load_examples()
    path = write(
        tmp_path,
        "employee,role,project,level,start_date,end_date\n"
        "E001,Developer,WEB,R,2026-01-01,9999-12-31\n"
        "E002,Developer,WEB,R,2026-01-01,31.12.9999\n",
    )

    output = import_ok("assignments", path)

    assert "assignments: 2 created, 0 updated, 0 unchanged" in output
    assert (
        "note: Column F (end_date): 2 rows hold a 31 December after 2199 (as 9999-12-31), which HR systems write"
        " for no end: read as none." in output
    )
    added = Assignment.objects.filter(start_date=D(2026, 1, 1), project__code="WEB", role__name="Developer")
    assert [a.end_date for a in added] == [None, None]
    assert "Nothing to change" in import_ok("assignments", path)

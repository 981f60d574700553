"""The HR formats: OrangeHRM 5's employee import template, and an effective-dated job history."""

from __future__ import annotations

import datetime

import pytest

from org.models import Assignment, Employee, Role
from tests.imports import EXAMPLES, import_fails, import_ok, load_examples, snapshot, write

D = datetime.date
pytestmark = pytest.mark.django_db
ORANGEHRM_HEADER = (EXAMPLES / "orangehrm.csv").read_text().splitlines()[0]


def orangehrm_row(first: str, last: str, number: str, email: str, middle: str = "") -> str:
    cells = [first, middle, last, number] + [""] * 16 + [email, ""]
    return ",".join(cells)


def test_the_orangehrm_template_is_recognised_and_its_extra_columns_noted():
    load_examples()

    output = import_ok("employees", EXAMPLES / "orangehrm.csv")

    assert "format orangehrm" in output
    assert "note: Ignored columns ProjMan has no field for: middle_name, other_id, driver's_license_no" in output
    assert "employees: 1 created, 0 updated, 1 unchanged" in output
    frank = Employee.objects.get(employee_number="E006")
    assert (frank.first_name, frank.last_name, frank.work_email) == ("Frank", "Miller", "frank.miller@projman.example")
    assert (frank.department, frank.job_title, frank.manager) == (None, "", None)


def test_reimporting_the_template_never_clears_what_another_file_set(tmp_path):
    load_examples()
    path = write(
        tmp_path, ORANGEHRM_HEADER + "\n" + orangehrm_row("Bobby", "Smith", "E002", "bob.smith@projman.example")
    )

    output = import_ok("employees", path)

    assert "employees: 0 created, 1 updated, 0 unchanged" in output
    bob = Employee.objects.get(employee_number="E002")
    assert bob.first_name == "Bobby"
    assert (bob.department.code, bob.job_title, bob.manager.employee_number) == ("PLT", "Platform Lead", "E001")
    assert bob.hire_date == D(2019, 6, 15)
    before = snapshot()
    assert "Nothing to change" in import_ok("employees", path)
    assert snapshot() == before


def test_orangehrm_columns_in_another_order_and_case_are_matched(tmp_path):
    header = ORANGEHRM_HEADER.split(",")
    shuffled = list(reversed(header))
    upper = [h.upper().replace("_", " ") for h in shuffled]
    row = dict(zip(header, orangehrm_row("Gus", "Grey", "E777", "gus@x.example").split(","), strict=True))
    path = write(tmp_path, ",".join(upper) + "\n" + ",".join(row[h] for h in shuffled) + "\n")

    output = import_ok("employees", path, "--format", "orangehrm")

    assert "employees: 1 created" in output
    assert Employee.objects.get(employee_number="E777").last_name == "Grey"


def test_an_orangehrm_row_without_work_email_is_refused_with_its_row_and_column(tmp_path):
    path = write(tmp_path, ORANGEHRM_HEADER + "\n" + orangehrm_row("Hal", "Hill", "E8", ""), "o.csv")

    report = import_fails("employees", path)

    assert report == "o.csv: row 2, column U (work_email): A value is required here: an email address.\n"
    assert not Employee.objects.exists()


def test_a_template_trimmed_to_the_columns_projman_reads_is_still_orangehrm(tmp_path):
    output = import_ok(
        "employees", write(tmp_path, "first_name,last_name,employee_id,work_email\nIda,Ivy,E9,i@x.example\n")
    )

    assert "format orangehrm" in output
    assert Employee.objects.get(employee_number="E9").first_name == "Ida"


def test_a_column_of_another_format_says_which_and_the_columns_are_named_as_the_format_spells_them(tmp_path):
    path = write(tmp_path, "first_name,last_name,employee_id,work_email,department\nIda,Ivy,E9,i@x.example,ENG\n")

    report = import_fails("employees", path)

    assert report == (
        "file.csv: row 1, column E (department): Unknown column 'department'; the columns are: employee_id,"
        " first_name, last_name, work_email. 'department' is a column of the projman format: choose it (--format"
        " projman, or Format in the admin).\n"
    )


# --- Job history ---------------------------------------------------------------------------------------------


def member_periods(number: str) -> list[tuple]:
    return list(
        Assignment.objects.filter(employee__employee_number=number, role__name="Team Member")
        .order_by("start_date")
        .values_list("department__code", "start_date", "end_date", "level")
    )


def test_job_history_becomes_dated_department_assignments_and_todays_department_title_and_manager():
    load_examples()

    output = import_ok("history", EXAMPLES / "history.csv")

    assert "format jobhistory" in output
    assert member_periods("E003") == [("ENG", D(2020, 9, 1), D(2021, 12, 31), "R"), ("DAT", D(2022, 1, 1), None, "R")]
    carla = Employee.objects.get(employee_number="E003")
    assert (carla.department.code, carla.job_title, carla.manager.employee_number) == ("DAT", "Data Engineer", "E001")
    assert Assignment.history.filter(history_type="+", role__name="Team Member").count() == 3
    before = snapshot()
    assert "Nothing to change" in import_ok("history", EXAMPLES / "history.csv")
    assert snapshot() == before


def test_a_later_move_ends_the_open_period_and_moves_the_employee(tmp_path):
    load_examples()
    import_ok("history", EXAMPLES / "history.csv")
    moved = (EXAMPLES / "history.csv").read_text() + "E003,2024-03-01,FIN,Controller,E004\n"

    output = import_ok("history", write(tmp_path, moved))

    assert "employees: 0 created, 1 updated" in output
    assert "assignments: 1 created, 1 updated, 2 unchanged" in output
    assert member_periods("E003")[-2:] == [
        ("DAT", D(2022, 1, 1), D(2024, 2, 29), "R"),
        ("FIN", D(2024, 3, 1), None, "R"),
    ]
    carla = Employee.objects.get(employee_number="E003")
    assert (carla.department.code, carla.job_title, carla.manager.employee_number) == ("FIN", "Controller", "E004")
    assert carla.history.latest().history_type == "~"


def test_a_file_of_only_the_latest_move_ends_the_stored_stay(tmp_path):
    """HR systems send the changes since the last export: one row moves Carla, whose stored history this file does
    not repeat; she leaves DAT the day before, and is never in two home departments at once."""
    load_examples()
    import_ok("history", EXAMPLES / "history.csv")
    path = write(tmp_path, "employee_number,effective_date,department,job_title\nE003,2024-03-01,FIN,Controller\n")

    output = import_ok("history", path)

    assert "assignments: 1 created, 1 updated" in output
    assert member_periods("E003") == [
        ("ENG", D(2020, 9, 1), D(2021, 12, 31), "R"),
        ("DAT", D(2022, 1, 1), D(2024, 2, 29), "R"),
        ("FIN", D(2024, 3, 1), None, "R"),
    ]
    assert Employee.objects.get(employee_number="E003").department.code == "FIN"
    change = Assignment.history.filter(department__code="DAT", history_type="~").latest()
    assert change.end_date == D(2024, 2, 29)
    before = snapshot()
    assert "Nothing to change" in import_ok("history", path)
    assert snapshot() == before


def test_an_older_file_fits_before_the_stored_moves_and_leaves_today_as_it_is(tmp_path):
    load_examples()
    import_ok("history", EXAMPLES / "history.csv")
    path = write(tmp_path, "employee_number,effective_date,department,job_title\nE003,2019-01-01,FIN,Trainee\n")

    import_ok("history", path)

    assert member_periods("E003")[:2] == [
        ("FIN", D(2019, 1, 1), D(2020, 8, 31), "R"),
        ("ENG", D(2020, 9, 1), D(2021, 12, 31), "R"),
    ]
    carla = Employee.objects.get(employee_number="E003")
    assert (carla.department.code, carla.job_title) == ("DAT", "Data Engineer")  # the stored move of 2022 stands


def test_a_row_in_the_stored_department_is_a_new_title_and_a_clash_with_a_stored_move_is_named(tmp_path):
    load_examples()
    import_ok("history", EXAMPLES / "history.csv")
    promoted = write(tmp_path, "employee_number,effective_date,department,job_title\nE003,2023-05-01,DAT,Lead\n")

    output = import_ok("history", promoted)

    assert "assignments: 0 created, 0 updated" in output
    assert member_periods("E003")[-1] == ("DAT", D(2022, 1, 1), None, "R")
    assert Employee.objects.get(employee_number="E003").job_title == "Lead"

    clash = write(tmp_path, "employee_number,effective_date,department\nE003,2022-01-01,FIN\n", "clash.csv")
    before = snapshot()
    report = import_fails("history", clash)
    assert report == (
        "clash.csv: row 2, column C (department): Carla Pérez is stored as moving to DAT on 2022-01-01, not to FIN;"
        " correct one of them (the stored stay in the admin).\n"
    )
    assert snapshot() == before


def test_a_move_the_file_dates_otherwise_than_the_stored_one_is_named_not_taken_as_matching(tmp_path):
    """HR corrected the day Carla moved to DAT (2022-01-01 → 2022-02-01) and sent the full history again: by the
    file she was in ENG in January 2022, by the stored stays in DAT. Neither is taken silently."""
    load_examples()
    import_ok("history", EXAMPLES / "history.csv")
    corrected = (EXAMPLES / "history.csv").read_text().replace("E003,2022-01-01", "E003,2022-02-01")
    before = snapshot()

    report = import_fails("history", write(tmp_path, corrected, "corrected.csv"))

    assert report == (
        "corrected.csv: row 3, column B (Effective Date): Carla Pérez is stored as moving to DAT on 2022-01-01, not"
        " on 2022-02-01; correct one of them (the stored stay in the admin).\n"
    )
    assert snapshot() == before


def test_a_stored_move_the_file_leaves_out_between_two_of_its_rows_is_named(tmp_path):
    load_examples()
    import_ok("history", EXAMPLES / "history.csv")
    path = write(
        tmp_path, "employee_number,effective_date,department\nE003,2020-09-01,ENG\nE003,2023-01-01,FIN\n", "gap.csv"
    )
    before = snapshot()

    report = import_fails("history", path)

    assert report == (
        "gap.csv: row 2, column C (department): Carla Pérez is stored as moving to DAT on 2022-01-01, while by this"
        " row they are in ENG until 2023-01-01 (row 3); correct one of them (the stored stay in the admin).\n"
    )
    assert snapshot() == before


def test_a_row_left_out_for_a_bad_cell_is_not_taken_for_a_stored_move_the_file_leaves_out(tmp_path):
    load_examples()
    full = "employee_number,effective_date,department,job_title\nE003,2020-09-01,ENG,\nE003,2022-01-01,DAT,{}\n"
    import_ok("history", write(tmp_path, full.format("Engineer") + "E003,2023-01-01,FIN,\n", "a.csv"))

    report = import_fails("history", write(tmp_path, full.format("b\x07") + "E003,2023-01-01,FIN,\n", "b.csv"))

    assert report.splitlines() == [
        "b.csv: row 3, column D (job_title): The value holds a control character (U+0007 CONTROL CHARACTER), which"
        " this column cannot hold; if the file was saved in another encoding, choose it with --encoding."
    ]


def test_a_move_the_file_dates_earlier_than_the_stored_one_starts_the_stay_then(tmp_path):
    """The stored stay falls within the file's own stay in the same department: it stays a stay of its own, and on
    every day the employee's home department is the file's."""
    load_examples()
    import_ok("history", EXAMPLES / "history.csv")
    earlier = (EXAMPLES / "history.csv").read_text().replace("E003,2022-01-01", "E003,2021-11-01")

    import_ok("history", write(tmp_path, earlier))

    assert member_periods("E003") == [
        ("ENG", D(2020, 9, 1), D(2021, 10, 31), "R"),
        ("DAT", D(2021, 11, 1), D(2021, 12, 31), "R"),
        ("DAT", D(2022, 1, 1), None, "R"),
    ]


def test_a_full_history_after_a_file_of_changes_keeps_each_stored_stay_its_own(tmp_path):
    """A stay stored by an earlier file of changes (DAT from 2023) is restated by the full history, where it
    follows DAT from 2022 as a promotion: it stays a stay of its own, ended by the next move, not left open."""
    load_examples()
    import_ok("history", write(tmp_path, "employee_number,effective_date,department\nE003,2023-01-01,DAT\n", "a.csv"))
    full = "employee_number,effective_date,department\nE003,2022-01-01,DAT\nE003,2023-01-01,DAT\nE003,2024-03-01,FIN\n"

    import_ok("history", write(tmp_path, full, "b.csv"))

    assert member_periods("E003") == [
        ("DAT", D(2022, 1, 1), D(2022, 12, 31), "R"),
        ("DAT", D(2023, 1, 1), D(2024, 2, 29), "R"),
        ("FIN", D(2024, 3, 1), None, "R"),
    ]


def test_a_new_title_in_the_same_department_is_not_a_move_and_a_leaver_period_ends_on_the_leave_date(tmp_path):
    load_examples()
    path = write(
        tmp_path,
        "Emp No;Effective From;Dept;Position;Supervisor ID\n"
        "E005;01/02/2021;PLT;Junior Developer;E002\nE005;01/02/2023;PLT;Developer;E002\n",
    )

    import_ok("history", path)

    assert member_periods("E005") == [("PLT", D(2021, 2, 1), D(2024, 12, 31), "R")]
    assert Employee.objects.get(employee_number="E005").job_title == "Developer"


def test_rows_dated_in_the_future_are_planned_but_do_not_move_the_employee_yet(tmp_path):
    load_examples()
    later = datetime.date.today() + datetime.timedelta(days=30)
    path = write(
        tmp_path,
        f"employee_number,effective_date,department\nE004,2017-01-10,FIN\nE004,{later.isoformat()},DAT\n",
    )

    output = import_ok("history", path)

    assert member_periods("E004")[-1] == ("DAT", later, None, "R")
    assert Employee.objects.get(employee_number="E004").department.code == "FIN"
    assert (
        "note: 1 row dated after today changes an employee's department, job title or manager: ProjMan keeps those"
        " of today, so the employee's record takes it when a file holding the row is imported on or after its day"
        f" (the first is {later}); a move is planned as its stay already." in output
    )


@pytest.mark.parametrize(
    ("later_row", "noted"),
    [("E004,{later},FIN,Controller,E001", True), ("E004,{later},FIN,Accountant,E001", False)],
    ids=["a new title to come", "the same title again"],
)
def test_a_change_of_title_to_come_is_noted_and_a_row_restating_today_is_not(tmp_path, later_row, noted):
    load_examples()
    later = datetime.date.today() + datetime.timedelta(days=30)
    content = "employee_number,effective_date,department,job_title,manager\nE004,2017-01-10,FIN,Accountant,E001\n"
    path = write(tmp_path, content + later_row.format(later=later) + "\n")

    output = import_ok("history", path)

    assert ("row dated after today changes" in output) is noted
    assert Employee.objects.get(employee_number="E004").job_title == "Accountant"


def test_the_member_role_is_created_when_missing_and_can_be_chosen(tmp_path):
    load_examples()
    path = write(tmp_path, "employee_number,effective_date,department\nE004,2017-01-10,FIN\n")

    output = import_ok("history", path, "--member-role", "Staff")

    assert "note: The role 'Staff' is created for home-department assignments." in output
    staff = Role.objects.get(name="Staff")
    assert staff.applies_to == "department"
    assert staff.history.count() == 1
    assert Assignment.objects.filter(role=staff, employee__employee_number="E004").count() == 1


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("x" * 101, "The value is 101 characters long; at most 100 fit."),
        (
            "=cmd|' /C calc'!A0",
            "\"=cmd|' /C calc'!A0\" starts with '=' and would run as a spreadsheet formula; put an apostrophe (') in"
            " front to keep it as text.",
        ),
        (
            "Team\u200bMember",
            "“Team\u200bMember” holds an invisible or unusual character, U+200B ZERO WIDTH SPACE, at"
            " position 5; type it again without it.",
        ),
    ],
)
def test_a_member_role_a_roles_file_could_not_hold_is_refused(tmp_path, name, problem):
    """The role --member-role creates must export and import back like any other."""
    load_examples()
    path = write(tmp_path, "employee_number,effective_date,department\nE004,2017-01-10,FIN\n")
    before = snapshot()

    report = import_fails("history", path, "--member-role", name)

    shown = repr(name if len(name) <= 40 else name[:39] + "…")
    assert report == f"file.csv: The role {shown} for home-department assignments cannot be created: {problem}\n"
    assert snapshot() == before


def test_the_member_role_is_found_whatever_its_case_and_spaces(tmp_path):
    """--member-role "team member " is the stored Team Member: no second role, no second home department."""
    load_examples()
    import_ok("history", EXAMPLES / "history.csv")
    moved = write(tmp_path, "employee_number,effective_date,department\nE003,2024-03-01,FIN\n")

    output = import_ok("history", moved, "--member-role", " team member ")

    assert "is created" not in output
    assert Role.objects.filter(name__iexact="team member").count() == 1
    assert member_periods("E003")[-2:] == [
        ("DAT", D(2022, 1, 1), D(2024, 2, 29), "R"),
        ("FIN", D(2024, 3, 1), None, "R"),
    ]


def test_job_history_problems_name_their_row_and_column(tmp_path):
    load_examples()
    path = write(
        tmp_path,
        "Employee ID,Effective Date,Department,Job Title,Manager ID\n"
        "E404,2020-01-01,ENG,X,\n"
        "E001,2020-01-01,NOPE,X,\n"
        "E001,2021-01-01,ENG,X,E001\n"
        "E005,2025-06-01,PLT,X,\n"
        "E002,2020-01-01,PLT,X,\nE002,2020-01-01,DAT,X,\n",
        "h.csv",
    )
    before = snapshot()

    report = import_fails("history", path)

    assert report.splitlines() == [
        "h.csv: row 2, column A (Employee ID): Unknown employee number 'E404': there is none in the database.",
        "h.csv: row 3, column C (Department): Unknown department code 'NOPE': there is none in the database.",
        "h.csv: row 4, column E (Manager ID): An employee cannot be their own manager.",
        "h.csv: row 5, column B (Effective Date): Elena Díaz left on 2024-12-31; "
        "a change cannot take effect after that.",
        "h.csv: row 7, column B (Effective Date): Duplicate of row 6: two changes of E002 on 2020-01-01; keep the one"
        " in force that day.",
    ]
    assert snapshot() == before


def test_job_history_cannot_make_a_loop_of_managers(tmp_path):
    load_examples()
    path = write(tmp_path, "employee_number,effective_date,department,manager\nE001,2020-01-01,ENG,E003\n", "h.csv")

    report = import_fails("history", path)

    assert report == (
        "h.csv: row 2, column D (manager): This would make a loop in the chain of managers: E001 → E003 → E001.\n"
    )


def test_a_job_history_from_a_spanish_spreadsheet_is_read_by_its_spanish_header(tmp_path):
    load_examples()
    content = "Nº empleado;Fecha efectiva;Departamento;Puesto;Responsable\nE003;01/03/2024;FIN;Contable;E001\n"

    output = import_ok("history", write(tmp_path, content, encoding="cp1252"))

    assert "format jobhistory, cp1252, delimiter ';'" in output
    carla = Employee.objects.get(employee_number="E003")
    assert (carla.department.code, carla.job_title, carla.manager.employee_number) == ("FIN", "Contable", "E001")


def test_the_columns_a_job_history_export_carries_beside_the_change_are_ignored_with_a_note(tmp_path):
    load_examples()
    content = "Employee ID,Employee Name,Effective Date,Action,Department\nE003,Carla,2024-03-01,=Transfer,FIN\n"

    output = import_ok("history", write(tmp_path, content))

    assert "note: Ignored columns ProjMan has no field for: Employee Name, Action." in output
    assert Employee.objects.get(employee_number="E003").department.code == "FIN"


def test_a_job_history_column_not_known_is_refused_naming_the_columns_as_the_format_spells_them(tmp_path):
    report = import_fails(
        "history", write(tmp_path, "Employee ID,Effective Date,Department,Salary\nE1,2024-01-01,X,1\n")
    )

    assert report == (
        "file.csv: row 1, column D (Salary): Unknown column 'Salary'; the columns are: Employee ID, Effective Date,"
        " Department, Job Title, Manager ID.\n"
    )


def test_a_row_before_the_hire_date_is_written_with_a_note(tmp_path):
    load_examples()  # Carla, E003, was hired on 2020-09-01
    path = write(tmp_path, "employee_number,effective_date,department\nE003,2019-05-01,FIN\n")

    output = import_ok("history", path)

    assert (
        "note: 1 row takes effect before the employee's hire date (row 2: Carla Pérez, hired on 2020-09-01); its"
        " stay starts then all the same: check the hire date." in output
    )
    assert member_periods("E003")[0][:2] == ("FIN", D(2019, 5, 1))

"""export_org: the columns import_org reads, round trips that change nothing, cells safe in a spreadsheet."""

from __future__ import annotations

import csv
import datetime
import io
import os
import stat
import subprocess
import sys
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from openpyxl import load_workbook

from org.models import Assignment, Department, Employee, Project, Role
from tests.factories import AssignmentFactory, DepartmentFactory, EmployeeFactory
from tests.imports import EXAMPLES, export, import_ok, load_examples, snapshot, with_shared_strings, write
from tests.topology import ROOT

pytestmark = pytest.mark.django_db
KINDS = ("departments", "roles", "employees", "projects", "assignments")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_then_import_changes_nothing_for_every_kind(tmp_path, suffix):
    load_examples()
    import_ok("history", write(tmp_path, _history(), "h.csv"))
    before = snapshot()

    for kind in (*KINDS, "history"):
        path = tmp_path / f"{kind}{suffix}"
        call_command("export_org", kind, "--output", str(path), stderr=io.StringIO())
        output = import_ok(kind, path)
        assert "Nothing to change" in output, (kind, output)
    assert snapshot() == before


HISTORY_HEADER = "employee_number,effective_date,department,job_title,manager"


def _history() -> str:
    return f"{HISTORY_HEADER}\nE003,2020-09-01,ENG,Analyst,E001\n"


def test_export_to_an_empty_database_imports_into_another_as_the_same_rows(tmp_path):
    load_examples()
    files = {kind: write(tmp_path, export(kind), f"{kind}.csv") for kind in KINDS}
    first = {kind: export(kind) for kind in KINDS}
    Employee.objects.update(manager=None)  # a manager with reports cannot be deleted
    for model in (Assignment, Project, Employee, Role):
        model.objects.all().delete()
    Department.objects.update(parent=None)
    Department.objects.all().delete()

    for kind in KINDS:
        import_ok(kind, files[kind])

    assert {kind: export(kind) for kind in KINDS} == first


def test_the_csv_header_is_projmans_columns():
    assert export("employees").splitlines()[0] == (
        "employee_number,first_name,last_name,work_email,job_title,department,manager,hire_date,leave_date"
    )


@pytest.mark.parametrize("dangerous", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx"])
def test_cells_that_a_spreadsheet_would_run_are_neutralised_and_survive_the_round_trip(tmp_path, dangerous):
    department = DepartmentFactory(code="FIN", name=dangerous)
    EmployeeFactory(first_name=dangerous, department=department)

    text = export("employees")
    workbook_path = tmp_path / "e.xlsx"
    call_command("export_org", "employees", "-o", str(workbook_path), stderr=io.StringIO())

    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][1] == f"'{dangerous}"
    assert not any(cell.startswith(("=", "+", "-", "@", "\t")) for row in rows for cell in row)
    cells = [c.value for row in load_workbook(workbook_path).active.iter_rows(min_row=2) for c in row]
    assert f"'{dangerous}" in cells
    assert not any(isinstance(c, str) and c.startswith(("=", "+", "-", "@")) for c in cells)
    before = snapshot()
    assert "Nothing to change" in import_ok("employees", write(tmp_path, text))
    assert "Nothing to change" in import_ok("departments", write(tmp_path, export("departments"), "d.csv"))
    assert snapshot() == before


AWKWARD = {
    "a line break as a browser sends it": "Line one\r\nLine two",
    "a lone carriage return": "line1\rline2",
    "a vertical tab pasted from Word": "a\x0bb",
    "text that looks like Excel's escape": "see _x000D_ here",
    "an apostrophe already before a formula character": "'=already",
    "two apostrophes": "''quoted",
    "text spelling a spreadsheet error": "#N/A",
    "a leading apostrophe in a name": "'s-Hertogenbosch",
    "the longest text, starting with a formula character": "-" + "x" * 9_999,
}


@pytest.mark.parametrize("form", [".csv", ".xlsx", "shared strings"])
@pytest.mark.parametrize("text", AWKWARD.values(), ids=AWKWARD.keys())
def test_awkward_text_survives_export_then_import_exactly(tmp_path, form, text):
    """What the admin or the shell may store comes back from a file the same, whatever the file format can hold
    (XML keeps no carriage return nor control character; CSV must quote a lone carriage return), and from the
    workbook saved again by a spreadsheet program, which keeps text in a shared strings part."""
    load_examples()
    Project.objects.filter(code="ERP").update(description=text)
    Assignment.objects.filter(project__code="ERP").update(note=text)
    before = snapshot()

    for kind in ("projects", "assignments"):
        path = tmp_path / f"{kind}{'.xlsx' if form == 'shared strings' else form}"
        call_command("export_org", kind, "--output", str(path), stderr=io.StringIO())
        if form == "shared strings":
            path.write_bytes(with_shared_strings(path.read_bytes()))
        assert "Nothing to change" in import_ok(kind, path), kind
    assert snapshot() == before
    assert Project.objects.get(code="ERP").description == text


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_text_stored_with_spaces_around_it_is_unchanged_by_its_own_export_imported_back(tmp_path, suffix):
    """A file's cells are read without the spaces around them; the admin strips them too, but code or the shell may
    store them, and the export then writes them as they are."""
    load_examples()
    Department.objects.filter(code="ENG").update(name="Engineering ")
    Employee.objects.filter(employee_number="E002").update(last_name="\u00a0Smith", job_title="Platform Lead\n")
    Assignment.objects.filter(project__code="ERP").update(note=" took over ")
    import_ok("history", EXAMPLES / "history.csv")
    before = snapshot()

    for kind in ("departments", "employees", "assignments", "history"):
        path = tmp_path / f"{kind}{suffix}"
        call_command("export_org", kind, "--output", str(path), stderr=io.StringIO())
        assert "Nothing to change" in import_ok(kind, path), kind
    assert snapshot() == before


def test_an_export_file_is_written_whole_or_not_at_all(tmp_path):
    EmployeeFactory()
    umask = os.umask(0o022)
    try:
        call_command("export_org", "employees", "-o", str(tmp_path / "e.xlsx"), stderr=io.StringIO())
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "e.xlsx").stat().st_mode) == 0o644  # not the temporary file's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["e.xlsx"]  # nothing left beside it

    with pytest.raises(CommandError, match=r"Cannot write .*nowhere/e\.csv: No such file or directory\."):
        call_command("export_org", "employees", "-o", str(tmp_path / "nowhere" / "e.csv"), stderr=io.StringIO())


def test_an_export_says_what_it_wrote_and_refuses_a_workbook_it_cannot_write(tmp_path):
    EmployeeFactory()
    said = io.StringIO()
    call_command("export_org", "employees", "-o", str(tmp_path / "e.csv"), stderr=said)
    assert said.getvalue() == f"1 row of employees written to {tmp_path / 'e.csv'}.\n"
    with pytest.raises(CommandError, match=r"not \.xls: name the file \.xlsx or \.csv\."):
        call_command("export_org", "employees", "-o", str(tmp_path / "e.xls"), stderr=io.StringIO())
    assert not (tmp_path / "e.xls").exists()


def test_an_export_to_a_named_pipe_is_written_straight_into_it(tmp_path):
    EmployeeFactory(employee_number="E77")
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()))
    reader.start()

    call_command("export_org", "employees", "-o", str(pipe), stderr=io.StringIO())

    reader.join(timeout=30)
    assert received and received[0].splitlines()[1].startswith("E77,")


def test_a_reader_that_stops_early_is_no_error(tmp_path):
    """`export_org … | head`: the pipe closes under a long export, which ends quietly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "PROJMAN_"))}
    env.update(DEBUG="true", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    create = (
        "from org.models import Department as D\n"
        "D.objects.bulk_create(D(code=f'D{i}', name='x' * 150) for i in range(20000))"
    )
    subprocess.run([*manage, "shell", "-c", create], cwd=ROOT, env=env, check=True, timeout=120)

    export = subprocess.Popen(
        [*manage, "export_org", "departments"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert export.stdout.readline() == b"code,name,parent,active\r\n"
    export.stdout.close()
    errors = export.stderr.read().decode()
    export.wait(timeout=60)

    assert "Traceback" not in errors and "BrokenPipe" not in errors, errors


def test_export_assignments_names_targets_by_code():
    AssignmentFactory(project__code="ERP", employee__employee_number="E7", role__name="Developer")

    lines = export("assignments").splitlines()

    assert lines[1].startswith("E7,Developer,,ERP,R,2024-01-01,,50,")


def test_the_hr_formats_export_in_their_own_columns_and_import_back_unchanged(tmp_path):
    load_examples()
    import_ok("history", write(tmp_path, _history(), "h.csv"))
    before = snapshot()

    orangehrm = export("employees", "--format", "orangehrm")
    history = export("history", "--format", "jobhistory")

    assert orangehrm.splitlines()[0].startswith("first_name,middle_name,last_name,employee_id,other_id,")
    assert history.splitlines()[:2] == [
        "Employee ID,Effective Date,Department,Job Title,Manager ID",
        "E003,2020-09-01,ENG,Analyst,E001",
    ]
    assert "format orangehrm" in import_ok("employees", write(tmp_path, orangehrm, "o.csv"))
    assert "Nothing to change" in import_ok("employees", write(tmp_path, orangehrm, "o.csv"))
    assert "Nothing to change" in import_ok("history", write(tmp_path, history, "j.csv"))
    assert snapshot() == before


def test_a_job_history_export_shows_todays_title_and_manager_from_todays_stay_on(tmp_path):
    """ProjMan keeps the title and manager of today: a past stay shows none rather than today's."""
    load_examples()
    import_ok(
        "history",
        write(
            tmp_path,
            "Employee ID,Effective Date,Department,Job Title,Manager ID\n"
            "E003,2020-09-01,ENG,Data Analyst,E002\n"
            "E003,2022-01-01,DAT,Data Engineer,E001\n"
            "E003,2199-01-01,PLT,Platform Engineer,E002\n",
            "h.csv",
        ),
    )
    before = snapshot()

    history = export("history")

    assert history.splitlines() == [
        "employee_number,effective_date,department,job_title,manager",
        "E003,2020-09-01,ENG,,",
        "E003,2022-01-01,DAT,Data Engineer,E001",
        "E003,2199-01-01,PLT,Data Engineer,E001",  # taken for today when its day comes: no title cleared then
    ]
    assert "Nothing to change" in import_ok("history", write(tmp_path, history, "again.csv"))
    assert snapshot() == before


def test_an_exported_history_imported_again_reopens_no_stay_and_moves_nobody(tmp_path):
    """The file has no end dates: a stay ended in the admin, with or without a later move, keeps its end. The row of
    today restates a stored stay: it does not move back an employee moved since (by an employees file, say)."""
    load_examples()
    import_ok("history", EXAMPLES / "history.csv")
    today = timezone.localdate()
    carla = Assignment.objects.filter(employee__employee_number="E003", role__name="Team Member")
    carla.filter(department__code="DAT").update(end_date=today - datetime.timedelta(days=30))
    bob = Assignment.objects.get(employee__employee_number="E002", role__name="Team Member")
    bob.end_date = today - datetime.timedelta(days=30)
    bob.save()
    AssignmentFactory(
        employee=bob.employee,
        role=bob.role,
        department=Department.objects.get(code="FIN"),
        project=None,
        start_date=today + datetime.timedelta(days=30),
        level="R",
    )
    Employee.objects.filter(employee_number="E003").update(department=Department.objects.get(code="FIN"))  # since
    before = snapshot()

    history = export("history")

    assert "Nothing to change" in import_ok("history", write(tmp_path, history, "again.csv"))
    assert snapshot() == before
    assert Employee.objects.get(employee_number="E003").department.code == "FIN"


def test_a_leavers_history_imported_again_keeps_the_end_set_before_the_leave_date(tmp_path):
    load_examples()
    import_ok("history", EXAMPLES / "history.csv")
    today = timezone.localdate()
    Assignment.objects.filter(employee__employee_number="E003", department__code="DAT").update(
        end_date=today - datetime.timedelta(days=100)
    )
    Employee.objects.filter(employee_number="E003").update(leave_date=today - datetime.timedelta(days=10))
    before = snapshot()

    assert "Nothing to change" in import_ok("history", write(tmp_path, export("history"), "again.csv"))
    assert snapshot() == before


def test_a_move_planned_for_a_day_that_has_come_is_made_when_the_file_comes_again(tmp_path, monkeypatch):
    """Imported while it lay ahead, the move to DAT is a stored stay by its day; Carla, still where the stay before
    it put her, moves when HR sends the same file again."""
    load_examples()
    moved = timezone.localdate() + datetime.timedelta(days=3)
    path = write(tmp_path, f"employee_number,effective_date,department\nE003,2020-09-01,ENG\nE003,{moved},DAT\n")
    import_ok("history", path)
    assert Employee.objects.get(employee_number="E003").department.code == "ENG"
    later = timezone.now() + datetime.timedelta(days=5)
    monkeypatch.setattr(timezone, "now", lambda: later)

    assert "employees: 0 created, 1 updated" in import_ok("history", path)
    assert Employee.objects.get(employee_number="E003").department.code == "DAT"


@pytest.mark.parametrize("since", ["ENG", "FIN"], ids=["back where she was", "elsewhere"])
def test_an_employee_moved_since_a_stay_began_is_not_moved_again_by_its_row(tmp_path, since):
    """Carla moved to DAT, then HR put her back in ENG, where she was before, with a new title: her history,
    exported and imported again, leaves her there, as it does one moved anywhere else; so does the file of her
    move to DAT sent again, whose title is older than her record's."""
    load_examples()
    path = write(
        tmp_path,
        "employee_number,effective_date,department,job_title\n"
        "E003,2020-09-01,ENG,Analyst\n"
        "E003,2022-01-01,DAT,Data Engineer\n",
    )
    import_ok("history", path)
    carla = Employee.objects.get(employee_number="E003")
    assert (carla.department.code, carla.job_title) == ("DAT", "Data Engineer")
    carla.department, carla.job_title = Department.objects.get(code=since), "Lead Analyst"
    carla.save()  # as the admin saves it, with its record in the audit trail
    before = snapshot()

    assert "Nothing to change" in import_ok("history", write(tmp_path, export("history"), "again.csv"))
    assert "Nothing to change" in import_ok("history", path)
    assert snapshot() == before
    carla.refresh_from_db()
    assert (carla.department.code, carla.job_title) == (since, "Lead Analyst")


def test_a_job_history_imported_under_another_role_exports_under_it(tmp_path):
    load_examples()
    row = "E003,2020-09-01,ENG,Analyst,E001"
    import_ok("history", write(tmp_path, f"{HISTORY_HEADER}\n{row}\n", "h.csv"), "--member-role", "Staff")

    assert export("history").splitlines() == [HISTORY_HEADER]
    assert export("history", "--member-role", " staff ").splitlines() == [HISTORY_HEADER, row]
    with pytest.raises(CommandError, match="No role is named 'Staf'"):
        call_command("export_org", "history", "--member-role", "Staf", stdout=io.StringIO())
    with pytest.raises(CommandError, match="The role 'Developer' does not apply to departments"):
        call_command("export_org", "history", "--member-role", "developer", stdout=io.StringIO())
    assert export("history", "--member-role", "").splitlines() == [HISTORY_HEADER]  # Team Member, as at import


def test_the_job_history_role_is_found_by_export_as_by_import(tmp_path):
    """Matched in any case beyond ASCII too, which SQLite's own comparison does not do."""
    load_examples()
    row = "E003,2020-09-01,ENG,Analyst,E001"
    import_ok("history", write(tmp_path, f"{HISTORY_HEADER}\n{row}\n", "h.csv"), "--member-role", "Équipe")

    assert export("history", "--member-role", "équipe").splitlines() == [HISTORY_HEADER, row]


def test_a_format_without_that_kind_is_refused():
    with pytest.raises(CommandError, match="No orangehrm export for roles; choose one of: projman"):
        call_command("export_org", "roles", "--format", "orangehrm")

"""The catalogue of broken files: each one is refused with the expected message at the expected row and column,
every problem of the file is reported, and the database is left exactly as it was (rows and history alike)."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from org.imports.engine import run_import
from tests.imports import import_fails, load_examples, snapshot, workbook, write, zip_bomb

pytestmark = pytest.mark.django_db

EMPLOYEES = "employee_number,first_name,last_name,work_email,department,manager,hire_date,leave_date\n"
ASSIGNMENTS = "employee,role,department,project,level,start_date,end_date,allocation\n"

# id: (kind, file content, extra arguments, expected lines of the report, each "row …, column …: message" start)
CATALOGUE: dict[str, tuple[str, str | bytes, tuple[str, ...], list[str]]] = {
    "missing column": (
        "employees",
        "employee_number,first_name,last_name\nE9,A,B\n",
        (),
        ["row 1, column 'work_email': Missing column 'work_email': it is required."],
    ),
    "extra column": (
        "departments",
        "code,name,parent,active,colour\nX,Y,,,blue\n",
        (),
        ["row 1, column E (colour): Unknown column 'colour'; the columns are: code, name, parent, active."],
    ),
    "column twice": (
        "departments",
        "code,name,Name\nX,Y,Z\n",
        (),
        ["row 1, column C (Name): Column 'name' appears twice (first in B (name))."],
    ),
    "wrong encoding": (
        "employees",
        (EMPLOYEES + "E9,Iñigo,Muñoz,i@x.example,ENG,,,\n").encode("cp1252"),
        ("--encoding", "utf-8"),
        ["row 2, column B: Byte 0xf1 is not valid utf-8"],
    ),
    "an encoding chosen wrongly": (
        "roles",
        b"name,description\nLead,Leads the teams\n",  # UTF-8, read as UTF-16
        ("--encoding", "utf-16"),
        ["row 1, column A (", "row 1, column 'name'", "row 1: No name in the header is a column ProjMan knows"],
    ),
    "mixed encodings": (
        "employees",
        (EMPLOYEES + "E9,Iñigo,Muñoz,i@x.example,ENG,,,\n").encode() + b"E10,Jos\xe9,Ruiz,j@x.example,ENG,,,\n",
        (),
        ["row 3, column B: Byte 0xe9 is not valid utf-8; the rest of the file is UTF-8, so it mixes encodings"],
    ),
    "unknown encoding": ("employees", EMPLOYEES, ("--encoding", "klingon"), ["Unknown encoding 'klingon'"]),
    "empty file": ("roles", b"", (), ["row 1: The file is empty; expected a header row and at least one data row."]),
    "blank lines only": ("roles", "\n\n  \n", (), ["row 1: The file is empty"]),
    "header only": ("roles", "name,description\n", (), ["row 2: The file has a header but no data rows."]),
    "bad dates": (
        "employees",
        EMPLOYEES + "E9,A,B,a@x.example,ENG,,2020-13-01,\nE10,C,D,c@x.example,ENG,,31/02/2020,\n"
        "E11,E,F,e@x.example,ENG,,yesterday,\n",
        (),
        [
            "row 2, column G (hire_date): '2020-13-01' is not a day of the calendar; expected a real date"
            " as YYYY-MM-DD or DD/MM/YYYY.",
            "row 3, column G (hire_date): '31/02/2020' is not a day of the calendar; expected a real date"
            " as YYYY-MM-DD or DD/MM/YYYY.",
            "row 4, column G (hire_date): 'yesterday' is not a date; expected YYYY-MM-DD or DD/MM/YYYY.",
        ],
    ),
    "bad emails": (
        "employees",
        EMPLOYEES + "E9,A,B,not-an-email,ENG,,,\nE10,C,D,,ENG,,,\nE11,E,F,a@b@c.example,ENG,,,\n",
        (),
        [
            "row 2, column D (work_email): 'not-an-email' is not an email address; expected name@example.com.",
            "row 3, column D (work_email): A value is required here: an email address.",
            "row 4, column D (work_email): 'a@b@c.example' is not an email address",
        ],
    ),
    "duplicate keys in the file": (
        "departments",
        "code,name\nNEW,One\nnew,Two\nNEW,Three\n",
        (),
        [
            "row 3, column A (code): Duplicate of row 2: 'new' is 'NEW' there, the same key whatever the case and"
            " accents; a key appears once in a file.",
            "row 4, column A (code): Duplicate of row 2: 'NEW' is there already; a key appears once in a file.",
        ],
    ),
    "duplicate email in the file": (
        "employees",
        EMPLOYEES + "E9,A,B,same@x.example,ENG,,,\nE10,C,D,SAME@x.example,ENG,,,\n",
        (),
        ["row 3, column D (work_email): same@x.example is also the address on row 2."],
    ),
    "duplicate email against the database": (
        "employees",
        EMPLOYEES + "E9,A,B,Ana.Garcia@projman.example,ENG,,,\n",
        (),
        ["row 2, column D (work_email): ana.garcia@projman.example already belongs to employee E001 in the database."],
    ),
    "a bad cell hides nothing else on its row": (
        "employees",
        EMPLOYEES + "X1,Ann,One,ana.garcia@projman.example,ENG,X1,31/02/2024,\n",
        (),
        [
            "row 2, column G (hire_date): '31/02/2024' is not a day of the calendar; expected a real date as"
            " YYYY-MM-DD or DD/MM/YYYY.",
            "row 2, column F (manager): This would make a loop in the chain of managers: X1 → X1.",
            "row 2, column D (work_email): ana.garcia@projman.example already belongs to employee E001"
            " in the database.",
        ],
    ),
    "unknown references": (
        "employees",
        EMPLOYEES + "E9,A,B,a@x.example,NOPE,E404,,\n",
        (),
        [
            "row 2, column E (department): Unknown department code 'NOPE': there is none in the database.",
            "row 2, column F (manager): Unknown employee number 'E404': there is none in the database or in this file.",
        ],
    ),
    "a bad cell and an unknown reference on one row": (
        "employees",
        EMPLOYEES + "E9,A,B,nope,NOPE,,,\n",
        (),
        [
            "row 2, column D (work_email): 'nope' is not an email address; expected name@example.com.",
            "row 2, column E (department): Unknown department code 'NOPE': there is none in the database.",
        ],
    ),
    "unknown assignment references": (
        "assignments",
        ASSIGNMENTS
        + "E404,Developer,,ERP,,2024-01-01,,\nE001,Juggler,,ERP,,2024-01-01,,\nE001,Developer,,NOPE,,2024-01-01,,\n",
        (),
        [
            "row 2, column A (employee): Unknown employee number 'E404': there is none in the database.",
            "row 3, column B (role): Unknown role 'Juggler': there is none in the database.",
            "row 4, column D (project): Unknown project code 'NOPE': there is none in the database.",
        ],
    ),
    "a second Accountable": (
        "assignments",
        ASSIGNMENTS + "E001,Sponsor,,ERP,A,2025-01-01,,\n",
        (),
        [
            "row 2, column E (level): Only one Accountable per target: Carla Pérez is Accountable for "
            "ERP — ERP migration from 2024-07-01, open-ended."
        ],
    ),
    "two Accountables inside the file": (
        "assignments",
        ASSIGNMENTS + "E001,Sponsor,,AI,,2025-01-01,,\nE004,Sponsor,,AI,,2025-06-01,2025-12-31,\n",
        (),
        [
            "row 2, column E (level): Only one Accountable per target: Dan Jones is Accountable for",
            "row 3, column E (level): Only one Accountable per target: Ana García is Accountable for",
        ],
    ),
    "a single-holder role held twice and a self overlap": (
        "assignments",
        ASSIGNMENTS + "E001,Project Manager,,WEB,R,2024-01-01,,\nE003,Project Manager,,WEB,R,2024-02-01,,\n"
        "E005,Developer,,WEB,,2024-06-01,,\n",
        (),
        [
            "row 2, column B (role): Project Manager has a single holder: Carla Pérez holds it on WEB",
            "row 3, column B (role): Project Manager has a single holder: Ana García holds it on WEB",
            "row 4, column F (start_date): No overlap with itself: Elena Díaz already holds Developer on WEB",
            "row 4, column G (end_date): Elena Díaz left on 2024-12-31; the assignment must end by then.",
        ],
    ),
    "assignment rules of one row": (
        "assignments",
        ASSIGNMENTS + "E001,Developer,ENG,ERP,,2024-01-01,,\nE001,Developer,,AI,,2024-05-01,2024-04-01,\n"
        "E001,Developer,,AI,,2025-05-01,,150\nE001,Developer,ENG,,,2024-01-01,,\n"
        "E005,Advisor,,AI,,2025-06-01,,\n",
        (),
        [
            "row 2, column C (department): Fill in exactly one of department and project (by code).",
            "row 3, column G (end_date): The end date cannot be before the start date.",
            "row 4, column H (allocation): '150' is out of range; expected a whole number from 0 to 100.",
            "row 5, column B (role): The role Developer applies to projects only.",
            "row 6, column F (start_date): Elena Díaz left on 2024-12-31; an assignment cannot start after that.",
        ],
    ),
    "an allocation that is no whole number": (
        "assignments",
        ASSIGNMENTS + "E005,Advisor,,AI,,2024-06-01,,33.3\n",
        (),
        [  # the rules are checked on the row all the same: its bad cell is not one they read
            "row 2, column H (allocation): '33.3' is not a whole number; expected a whole number from 0 to 100.",
            "row 2, column G (end_date): Elena Díaz left on 2024-12-31; the assignment must end by then.",
        ],
    ),
    "a bad target cell": (
        "assignments",
        ASSIGNMENTS + f"E003,Project Manager,ENG,{'P' * 30},,2024-01-01,,\nE003,Developer,ENG,WEB,,2024-01-01,,x\n",
        (),
        [  # the project unknown, the row is not checked as one of ENG; both targets named, even beside a bad cell
            "row 2, column D (project): The value is 30 characters long; at most 20 fit.",
            "row 3, column C (department): Fill in exactly one of department and project (by code).",
            "row 3, column H (allocation): 'x' is not a number; expected a whole number from 0 to 100.",
        ],
    ),
    "invisible characters in keys, control characters anywhere": (
        "departments",
        "code,name\nENG\u200b,Engineering again\nQ\u00a0A,Quality\nOPS,Oper\x81ations\n",
        (),
        [
            "row 2, column A (code): “ENG\u200b” holds an invisible or unusual character, U+200B ZERO WIDTH SPACE, at"
            " position 4; type it again without it.",
            "row 3, column A (code): “Q\u00a0A” holds an invisible or unusual character, U+00A0 NO-BREAK SPACE, at"
            " position 2; type it again without it.",
            "row 4, column B (name): The value holds a control character (U+0081 CONTROL CHARACTER), which this"
            " column cannot hold; if the file was saved in another encoding, choose it with --encoding.",
        ],
    ),
    "a department cycle": (
        "departments",
        "code,name,parent\nENG,Engineering,DAT\n",
        (),
        ["row 2, column C (parent): This would make a loop in the department tree: ENG → DAT → ENG."],
    ),
    "a cycle inside the file": (
        "departments",
        "code,name,parent\nA,A,B\nB,B,A\n",
        (),
        ["row 2, column C (parent): This would make a loop in the department tree: A → B → A."],
    ),
    "a manager cycle": (
        "employees",
        EMPLOYEES + "E001,Ana,García,ana.garcia@projman.example,ENG,E002,,\n",
        (),
        ["row 2, column F (manager): This would make a loop in the chain of managers: E001 → E002 → E001."],
    ),
    "dates in the wrong order": (
        "employees",
        EMPLOYEES + "E9,A,B,a@x.example,ENG,,2020-01-01,2019-01-01\n",
        (),
        ["row 2, column H (leave_date): The leave date 2019-01-01 is before the hire date 2020-01-01."],
    ),
    "a leaver with an assignment to come": (
        "employees",
        "employee_number,first_name,last_name,work_email,leave_date\nE002,Bob,Smith,bob.smith@projman.example,2023-12-31\n",
        (),
        [
            "row 2, column E (leave_date): 1 assignment starts after this leave date: Bob Smith — Project Manager"
            " (Accountable) on ERP — ERP migration from 2024-01-01 to 2024-06-30; hand it over first."
        ],
    ),
    "a huge field": (
        "departments",
        "code,name\nBIG," + "x" * 300 + "\n",
        (),
        ["row 2, column B (name): The value is 300 characters long; at most 200 fit."],
    ),
    "a huge note": (
        "assignments",
        ASSIGNMENTS.strip() + ",note\nE001,Developer,,AI,,2025-01-01,,," + "y" * 20_000 + "\n",
        (),
        ["row 2, column I (note): The cell holds 20000 characters; at most 10000 fit."],
    ),
    "a field beyond the csv limit": (
        "roles",
        "name,description\nBig," + "z" * 200_000 + "\n",
        (),
        ["row 2: The CSV cannot be read here: field larger than field limit (131072)."],
    ),
    "a formula-looking cell": (
        "departments",
        "code,name\nXL,=cmd|' /C calc'!A0\nXM,@SUM(1)\n",
        (),
        [
            "row 2, column B (name): \"=cmd|' /C calc'!A0\" starts with '=' and would run as a spreadsheet formula; "
            "put an apostrophe (') in front to keep it as text.",
            "row 3, column B (name): '@SUM(1)' starts with '@'",
        ],
    ),
    "a value beyond the last column": (
        "roles",
        "name,description\nCoach,Helps,oops\n",
        (),
        ["row 2, column C: A value beyond the last named column."],
    ),
    "a value under no header": (
        "roles",
        "name,,description\nCoach,oops,Helps\n",
        (),
        ["row 2, column B: A value in a column without a name in the header."],
    ),
    "an unknown choice": (
        "projects",
        "code,name,department,status\nZ,Zed,ENG,finished\n",
        (),
        ["row 2, column D (status): 'finished' is not known; expected one of proposed, active, on_hold, closed."],
    ),
    "a yes-or-no that is neither": (
        "departments",
        "code,name,active\nZ,Zed,maybe\n",
        (),
        ["row 2, column C (active): 'maybe' is not yes or no; expected true/false, yes/no or 1/0."],
    ),
    "required cells left empty": (
        "projects",
        "code,name,department\n,Nameless,ENG\nQ,,\n",
        (),
        [
            "row 2, column A (code): A value is required here.",
            "row 3, column B (name): A value is required here.",
            "row 3, column C (department): A value is required here.",
        ],
    ),
    "a cell spanning lines, then a bad row": (
        "departments",
        'code,name,active\nQ1,"Quality,\nfirst line\nand second",yes\n\nQ2,Second,maybe\n',
        (),
        ["row 4, column C (active): 'maybe' is not yes or no"],  # as a spreadsheet numbers it, not line 6
    ),
    "a header below blank lines": (
        "departments",
        "\n\ncode;name;colour\nX;Y;blue\nZ;W;\n",
        (),
        ["row 3, column C (colour): Unknown column 'colour'"],
    ),
    "a workbook's header below blank rows": (
        "departments",
        workbook([["code", "name", "colour"], ["X", "Y", "blue"]], above=2),
        (),
        ["row 3, column C (colour): Unknown column 'colour'"],
    ),
    "a workbook with a sheet cut short": (
        "roles",
        workbook([["name"], ["Coach"]], damage=("xl/worksheets/sheet1.xml", lambda b: b[: len(b) // 2])),
        (),
        ["The XLSX workbook is damaged (unclosed token: line 1, column"],
    ),
    "a workbook whose sheet declares entities (a billion laughs)": (
        "roles",
        workbook(
            [["name"], ["&b;"]],
            damage=(
                "xl/worksheets/sheet1.xml",
                lambda b: b.replace(
                    b"<worksheet",
                    b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><worksheet',
                    1,
                ).replace(b"&amp;b;", b"&b;"),
            ),
        ),
        (),
        ["The XLSX workbook is damaged (a document type declaration (worksheet) in its XML); save it again"],
    ),
    "a workbook whose header shows an error": (
        "roles",
        workbook([["name", "#NAME?"], ["Coach", "Helps"]]),
        (),
        ["row 1, column B: The cell shows the spreadsheet error #NAME?, not a value; correct its formula."],
    ),
    "a workbook's date cell holding no date": (
        "projects",
        workbook(
            [["code", "name", "department", "start_date"], ["P9", "Nine", "ENG", datetime.date(2025, 1, 1)]],
            damage=("xl/worksheets/sheet1.xml", lambda b: b.replace(b"<v>45658</v>", b"<v>3000000</v>")),
        ),
        (),
        [
            "row 2, column D (start_date): The cell is formatted as a date, but 3000000 is no date; enter the date "
            "again."
        ],
    ),
    "a workbook that merges more cells than it holds": (
        "roles",
        workbook(
            [["name"], *[[f"R{i}"] for i in range(20)]],
            damage=(
                "xl/worksheets/sheet1.xml",
                lambda b: b.replace(
                    b"</sheetData>", b"</sheetData><mergeCells>" + b'<mergeCell ref="A2:A21"/>' * 17 + b"</mergeCells>"
                ),
            ),
        ),
        (),
        ["row 2: The sheet merges more cells than it holds; unmerge them and save it again."],
    ),
    "a workbook whose rows are stored out of order": (
        "roles",
        workbook(
            [["name"], ["Coach"], ["Mentor"]],
            damage=("xl/worksheets/sheet1.xml", lambda b: b.replace(b'<row r="3">', b'<row r="2">')),
        ),
        (),
        ["The XLSX workbook is damaged (row 2 stored after row 2); save it again"],
    ),
    "a workbook's ISO date cell holding no date": (
        "projects",
        workbook(
            [["code", "name", "department", "start_date"], ["P9", "Nine", "ENG", 1]],
            damage=(
                "xl/worksheets/sheet1.xml",
                lambda b: b.replace(b'<c r="D2" t="n"><v>1</v>', b'<c r="D2" t="d"><v>2025-02-30</v>'),
            ),
        ),
        (),
        [
            "row 2, column D (start_date): The cell is formatted as a date, but 2025-02-30 is no date; enter the date "
            "again."
        ],
    ),
    "a workbook with broken styles": (
        "roles",
        workbook(
            [["name"], ["Coach"]],
            damage=("xl/styles.xml", lambda b: b.replace(b"<fonts", b"<numFmts><numFmt/></numFmts><fonts", 1)),
        ),
        (),
        ["row 1: The file is not a readable XLSX workbook"],
    ),
    "a workbook that is not XML": (
        "roles",
        workbook([["name"], ["Coach"]], damage=("xl/workbook.xml", lambda b: b"not xml")),
        (),
        ["row 1: The file is not a readable XLSX workbook (syntax error: line 1, column 0); save it again"],
    ),
    "a workbook that unpacks to too much": (
        "roles",
        zip_bomb(workbook([["name"], ["Coach"]]), 257 * 2**20),
        (),
        ["row 1: The workbook unpacks to 257 MB; at most 256 MB are read. Save it as CSV, or split it."],
    ),
    "not a workbook": ("roles", b"PK\x03\x04 this is no zip", (), ["row 1: The file is not a readable XLSX workbook"]),
    "an Excel 97-2003 workbook": (
        "roles",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
        (),
        ["row 1: The file is an Excel 97-2003 workbook (.xls), another older Office file, or a workbook protected"],
    ),
    "UTF-16 without a byte order mark": (
        "roles",
        "name,description\nCoach,Helps\n".encode("utf-16-le"),
        (),
        [
            "row 1: The file contains NUL bytes: it is not a CSV text file (nor an XLSX workbook); if it is UTF-16"
            " without a byte order mark, choose UTF-16 as its encoding."
        ],
    ),
    "a binary file": ("roles", b"name\n\x00\x01\x02", (), ["row 1: The file contains NUL bytes"]),
    "a format without that kind": (
        "projects",
        "code,name,department\nZ,Zed,ENG\n",
        ("--format", "orangehrm"),
        ["The 'orangehrm' format has no projects; for projects use: projman."],
    ),
}


@pytest.mark.parametrize(("kind", "content", "args", "expected"), CATALOGUE.values(), ids=CATALOGUE.keys())
def test_a_broken_file_is_refused_with_every_problem_named_and_nothing_written(tmp_path, kind, content, args, expected):
    load_examples()
    path = write(tmp_path, content, "broken.csv")
    before = snapshot()

    report = import_fails(kind, path, *args)

    lines = report.splitlines()
    for message in expected:
        assert any(line.startswith(f"broken.csv: {message}") for line in lines), f"{message!r} not in:\n{report}"
    assert len(lines) == len(expected), report
    assert snapshot() == before


def test_every_bad_row_is_reported_not_only_the_first(tmp_path):
    load_examples()
    rows = "".join(f"E{i},A,B,bad{i},ENG,,,\n" for i in range(100, 150))

    report = import_fails("employees", write(tmp_path, EMPLOYEES + rows))

    assert len(report.splitlines()) == 50
    assert "row 51, column D (work_email): 'bad149' is not an email address" in report


def test_a_file_whose_header_is_refused_still_has_its_rows_counted_and_its_syntax_checked():
    content = b'number,first_name,last_name,work_email\nE1,A,B,a@x.example\nE2,C,D,c@x.example\n"E3,x\n'

    report = run_import("employees", content, filename="staff.csv")

    assert report.rows == 2  # read before the one the CSV cannot
    assert [str(p) for p in report.problems] == [
        "row 1, column 'employee_number': Missing column 'employee_number': it is required.",
        "row 1, column A (number): Unknown column 'number'; the columns are: employee_number, first_name,"
        " last_name, work_email, job_title, department, manager, hire_date, leave_date.",
        "row 4: The CSV cannot be read here: unexpected end of data.",
    ]


@pytest.mark.parametrize(
    ("content", "args", "first_line"),
    [
        ("", ("--format", "jobhistory"), "broken.csv: 0 rows"),
        (
            "employee_number,effective_date,department\nE1,2024-01-01,ENG\n",
            ("--format", "orangehrm"),
            "broken.csv: 1 row, utf-8-sig, delimiter ','",
        ),
    ],
    ids=["empty", "a format without the kind"],
)
def test_the_summary_names_no_format_the_file_was_not_read_in(tmp_path, content, args, first_line):
    out = StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_org", "history", str(write(tmp_path, content, "broken.csv")), *args, stdout=out, stderr=StringIO()
        )
    assert out.getvalue().splitlines()[0] == first_line


def test_a_csv_named_xlsx_is_read_as_the_csv_it_is(tmp_path):
    out = StringIO()
    call_command("import_org", "roles", str(write(tmp_path, "name\nCoach\n", "roles.xlsx")), stdout=out)
    assert out.getvalue().splitlines()[0] == "roles.xlsx: 1 row, format projman, utf-8-sig, delimiter ','"


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read .*nothing\.csv"):
        call_command("import_org", "roles", str(tmp_path / "nothing.csv"))


def test_a_row_leading_into_a_loop_and_the_loop_itself_are_told_apart(tmp_path):
    path = write(tmp_path, "code,name,parent\nA,A,B\nB,B,C\nC,C,B\n", "loop.csv")

    report = import_fails("departments", path)

    assert report == "loop.csv: row 3, column C (parent): This would make a loop in the department tree: B → C → B.\n"


def test_a_long_chain_of_managers_is_checked_in_linear_time(tmp_path):
    rows = "".join(f"E{i},A,B,e{i}@x.example,E{i - 1}\n" for i in range(1, 20_000))
    path = write(tmp_path, "employee_number,first_name,last_name,work_email,manager\nE0,A,B,e0@x.example,\n" + rows)

    report = run_import("employees", path.read_bytes(), dry_run=True)

    assert report.ok, report.problems[:3]
    assert report.counts["employees"].created == 20_000

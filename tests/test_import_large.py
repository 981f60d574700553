"""Size: 10,000 employees on MariaDB inside the suite; queries that grow with batches, not rows; the progress bar."""

from __future__ import annotations

import io
import math
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from org.imports.engine import BATCH_SIZE, run_import
from org.management.commands.import_org import ProgressBar
from org.models import Department, Employee

pytestmark = pytest.mark.django_db


def employees_csv(count: int, *, title: str = "Engineer") -> bytes:
    lines = ["employee_number,first_name,last_name,work_email,job_title,department,manager,hire_date"]
    for i in range(count):
        manager = f"E{(i - 1) // 8:06d}" if i else ""  # a tree eight wide: managers come earlier in the file
        lines.append(
            f"E{i:06d},First{i},Last{i},e{i}@example.com,{title},D{i % 50:02d},{manager},2020-01-{i % 28 + 1:02d}"
        )
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def departments():
    Department.objects.bulk_create(Department(code=f"D{i:02d}", name=f"Department {i}") for i in range(50))


@pytest.mark.mariadb
def test_ten_thousand_employees_on_mariadb_in_one_go_then_unchanged_then_updated(departments):
    data = employees_csv(10_000)

    report = run_import("employees", data, filename="big.csv")

    assert report.ok, report.problems[:5]
    assert report.counts["employees"].created == 10_000
    assert Employee.objects.count() == Employee.history.count() == 10_000
    assert Employee.objects.get(employee_number="E009999").manager.employee_number == f"E{9998 // 8:06d}"

    again = run_import("employees", data, filename="big.csv")

    assert (again.counts["employees"].unchanged, again.changes) == (10_000, 0)
    assert Employee.history.count() == 10_000

    promoted = run_import("employees", employees_csv(10_000, title="Senior Engineer"), filename="big.csv")

    assert promoted.counts["employees"].updated == 10_000
    assert Employee.objects.filter(job_title="Senior Engineer").count() == 10_000
    assert Employee.history.filter(history_type="~").count() == 10_000


@pytest.mark.parametrize("rows", [2_000, 8_000])
def test_queries_grow_with_batches_not_rows(departments, rows):
    data = employees_csv(rows)
    with CaptureQueriesContext(connection) as first:
        assert run_import("employees", data).ok
    with CaptureQueriesContext(connection) as again:
        assert run_import("employees", data).ok

    # Statements insert BATCH_SIZE rows, or fewer where the backend caps the parameters of one query (SQLite);
    # each level of the manager tree (eight wide: up to 7 levels here) is a batch of its own.
    history_fields = list(Employee.history.model._meta.concrete_fields)
    per_statement = min(BATCH_SIZE, connection.ops.bulk_batch_size(history_fields, [None] * BATCH_SIZE))
    levels = 7
    # Stored rows, departments and managers, e-mails: each by batches of keys, or a count and one read of the table.
    lookups = 3 * max(2, math.ceil(rows / BATCH_SIZE))
    fixed = 5  # savepoint, release, the manager tree for the loop check, a count or two to spare
    assert len(first) <= fixed + lookups + 2 * (math.ceil(rows / per_statement) + levels)
    # Unchanged, the file's rows are read once (a count, then the table) and so are the departments; managers are
    # among the rows read, nobody moves in the tree and no address is new, so nothing else is asked.
    assert len(again) == 6


def test_a_small_file_reads_only_the_rows_it_names_however_large_the_table(departments):
    """A day's changes from HR into a big company: the loop check walks up from the rows that move, the e-mail
    check looks up the new addresses, and on MariaDB the table is never read whole."""
    assert run_import("employees", employees_csv(8_000)).ok
    # The top of the tree moves under one of its own, deepest, reports; a new employee; a new address.
    delta = (
        b"employee_number,first_name,last_name,work_email,job_title,department,manager,hire_date\n"
        b"E000000,First0,Last0,e0@example.com,Engineer,D00,E007999,2020-01-01\n"
        b"E900000,New,Hire,new@example.com,Engineer,D01,E000003,2020-01-01\n"
        b"E000005,First5,Last5,e1@example.com,Engineer,D05,E000000,2020-01-06\n"
    )

    with CaptureQueriesContext(connection) as queries:
        report = run_import("employees", delta)

    assert [(p.row, p.column) for p in report.problems] == [(2, "G (manager)"), (4, "D (work_email)")]
    assert report.problems[0].message.startswith(
        "This would make a loop in the chain of managers: E000000 → E007999 → E000999 → E000124 → E000015 → E000001"
        " → E000000."
    )
    assert "e1@example.com already belongs to employee E000001" in report.problems[1].message
    whole = [q["sql"] for q in queries if "org_employee" in q["sql"] and "WHERE" not in q["sql"]]
    if connection.vendor == "mysql":  # SQLite reads whole tables to match keys without regard to case (fetch)
        assert [sql for sql in whole if "COUNT(" not in sql] == []
    assert Employee.objects.count() == 8_000


def test_a_loop_deep_in_a_stored_chain_is_found(departments):
    """Deeper than the levels read one at a time, the chain is read whole and the loop still found."""
    chain = "".join(f"C{i:03d},A,B,c{i}@example.com,Engineer,D00,{f'C{i - 1:03d}' if i else ''},\n" for i in range(40))
    header = "employee_number,first_name,last_name,work_email,job_title,department,manager,hire_date\n"
    assert run_import("employees", (header + chain).encode()).ok

    report = run_import("employees", (header + "C000,A,B,c0@example.com,Engineer,D00,C039,\n").encode())

    assert [(p.row, p.column) for p in report.problems] == [(2, "G (manager)")]
    assert report.problems[0].message.startswith("This would make a loop in the chain of managers: C000 → C039 → C038")
    assert report.problems[0].message.endswith("C001 → C000.")
    assert Employee.objects.get(employee_number="C000").manager_id is None


@pytest.fixture
def refused_number():
    """A trigger that makes the database itself refuse the employee number it returns, as a rule the import
    cannot know of (or a concurrent writer) would."""
    number = "E004500"
    if connection.vendor == "mysql":
        create = (
            "CREATE TRIGGER refuse_one BEFORE INSERT ON org_employee FOR EACH ROW "
            f"IF NEW.employee_number = '{number}' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'; END IF"
        )
    else:
        create = (
            "CREATE TRIGGER refuse_one BEFORE INSERT ON org_employee FOR EACH ROW "
            f"WHEN NEW.employee_number = '{number}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    with connection.cursor() as cursor:
        cursor.execute(create)
    yield number
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse_one")


@pytest.mark.django_db(transaction=True)  # MariaDB commits around CREATE TRIGGER
def test_a_batch_the_database_refuses_leaves_nothing_of_the_import(departments, refused_number):
    # Batches before and after the refused row are written, or under way, when it is refused.
    report = run_import("employees", employees_csv(9_000))

    assert not report.ok and not report.written
    assert [(p.row, p.column) for p in report.problems] == [(None, None)]
    assert "The database refused the import, so nothing was written" in report.problems[0].message
    assert "refused" in report.problems[0].message.rsplit(":", 1)[1]
    assert Employee.objects.count() == Employee.history.count() == 0
    # The writing thread is gone (counted by name: other tests' threads may end meanwhile).
    assert not [t for t in threading.enumerate() if t.name.startswith("projman-import-writer")]

    # The connection is usable again, and the same file without the refused row imports whole.
    kept = employees_csv(9_000).replace(f"{refused_number},".encode(), b"E900000,")
    assert run_import("employees", kept).ok
    assert Employee.objects.count() == Employee.history.count() == 9_000


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_on_a_terminal_and_stays_quiet_elsewhere(departments):
    terminal, pipe = Terminal(), io.StringIO()

    run_import("employees", employees_csv(3_000), progress=ProgressBar(terminal))
    run_import("employees", employees_csv(3_000), progress=ProgressBar(pipe))

    drawn = terminal.getvalue()
    assert "\rchecking   [" in drawn
    assert "3,000/3,000" in drawn
    assert "\rwriting    [##############################] 3,000/3,000\n" in drawn
    assert pipe.getvalue() == ""

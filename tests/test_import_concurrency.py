"""Imports racing the admin on MariaDB, over leave dates.

An import of assignments locks its targets, then the employees its rows belong to (the order of
org.services.lock_for), and checks their leave dates as they are then: a leave date committed before that is seen,
one set after waits for the import to commit. An import of employees that sets leave dates locks the leavers the same
way before it reads what they hold: an assignment being written for one is seen, and one written after waits."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from org import services
from org.imports import engine
from org.models import Assignment, Department, Employee, Level, Role
from tests.factories import DepartmentFactory, EmployeeFactory, RoleFactory
from tests.test_concurrency import held_role_change, in_thread, waits_then_both_finish

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]

LEAVE = datetime.date(2025, 6, 30)
FILES = {  # a row starting after LEAVE, and the column that says so
    "assignments": ("employee,role,department,start_date\nE1,Developer,FIN,2025-09-01\n", "D (start_date)"),
    "history": ("employee_number,effective_date,department\nE1,2025-09-01,FIN\n", "B (effective_date)"),
}


@pytest.fixture
def ana():
    DepartmentFactory(code="FIN")
    RoleFactory(name="Developer", applies_to="both", default_level=Level.RESPONSIBLE)
    return EmployeeFactory(employee_number="E1", first_name="Ana", last_name="García")


def paused_import(
    monkeypatch, kind: str, where: str, paused: threading.Event, release: threading.Event, data: str | None = None
):
    """A function running the import of ``data`` (by default ``FILES[kind]``) that waits for ``release`` on first
    calling ``where`` (a name in org.imports.engine)."""
    original = getattr(engine, where)

    def pausing(*args, **kwargs):
        if threading.current_thread().name == "import" and not paused.is_set():
            paused.set()
            assert release.wait(20), "test timed out"
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, where, pausing)
    content = FILES[kind][0] if data is None else data
    return lambda: engine.run_import(kind, content.encode(), filename="file.csv")


def mark_left(ana):
    return lambda: services.employee_mark_left(employee=Employee.objects.get(pk=ana.pk), leave_date=LEAVE)


@pytest.mark.parametrize("kind", FILES)
def test_a_leave_date_committed_before_the_import_locks_is_seen(monkeypatch, ana, kind):
    """The import has read the employee (no leave date yet) and pauses before it locks anything; the leave date is
    committed meanwhile. The import must check the row against it, not against what it read first."""
    paused, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}
    importing = in_thread(paused_import(monkeypatch, kind, "lock_targets", paused, release), results, "import")
    assert paused.wait(20)
    leaving = in_thread(mark_left(ana), results, "leave")
    leaving.join(20)
    release.set()
    importing.join(20)

    assert results["leave"] == 0, results["leave"]
    report = results["import"]
    assert [(p.row, p.column) for p in report.problems] == [(2, FILES[kind][1])], report.problems
    assert "left on 2025-06-30" in report.problems[0].message
    assert not Assignment.objects.exists()


@pytest.mark.parametrize("kind", FILES)
def test_a_leave_date_set_while_the_import_holds_its_locks_waits_for_it(monkeypatch, ana, kind):
    """The import has locked its targets and employees and pauses before checking the rules: the leave date waits
    for the import to commit, then sees its assignment and is refused."""
    paused, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}
    importing = in_thread(
        paused_import(monkeypatch, kind, "assignments_batch_violations", paused, release), results, "import"
    )
    assert paused.wait(20)
    leaving = in_thread(mark_left(ana), results, "leave")
    leaving.join(1.0)
    assert leaving.is_alive(), "the leave date should wait for the import's lock on the employee"
    release.set()
    importing.join(20)
    leaving.join(20)

    assert results["import"].ok, results["import"].problems
    assert isinstance(results["leave"], ValidationError), results["leave"]
    assert Employee.objects.get(pk=ana.pk).leave_date is None
    assert Assignment.objects.get().start_date == datetime.date(2025, 9, 1)


def test_the_import_locks_its_employees_after_its_targets_by_batches(monkeypatch, ana):
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    people = [ana, *(EmployeeFactory(employee_number=f"E{i}") for i in range(2, 6))]
    rows = "".join(f"{p.employee_number},Developer,FIN,2025-09-01\n" for p in people)
    employees = connection.ops.quote_name(Employee._meta.db_table)
    departments = connection.ops.quote_name(Department._meta.db_table)

    with CaptureQueriesContext(connection) as queries:
        report = engine.run_import("assignments", f"employee,role,department,start_date\n{rows}".encode())

    assert report.ok, report.problems
    locks = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]
    assert [departments in sql for sql in locks] == [True, False, False, False], locks
    assert all(f"FROM {employees}" in sql for sql in locks[1:])  # five employees, two a batch, in id order


LEAVER = "employee_number,first_name,last_name,work_email,leave_date\nE1,Ana,García,ana@example.com,2025-06-30\n"
LEAVE_COLUMN = "E (leave_date)"


def assign_ana(ana):
    role = Role.objects.get(name="Developer")
    department = Department.objects.get(code="FIN")
    return lambda: services.assignment_create(
        employee=Employee.objects.get(pk=ana.pk), role=role, target=department, start_date=datetime.date(2025, 9, 1)
    )


def test_an_assignment_written_while_an_import_sets_the_leave_date_waits_for_it(monkeypatch, ana):
    """The employees import has checked what Ana holds (nothing) and pauses before it writes her leave date: an
    assignment for her starting after it waits for the import, then meets the leave date and is refused."""
    paused, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}
    importing = in_thread(paused_import(monkeypatch, "employees", "write", paused, release, LEAVER), results, "import")
    assert paused.wait(20)
    assigning = in_thread(assign_ana(ana), results, "assign")
    assigning.join(1.0)
    assert assigning.is_alive(), "the assignment should wait for the import's lock on the leaver"
    release.set()
    importing.join(20)
    assigning.join(20)

    assert results["import"].ok, results["import"].problems
    assert isinstance(results["assign"], ValidationError), results["assign"]
    assert Employee.objects.get(pk=ana.pk).leave_date == LEAVE
    assert not Assignment.objects.exists()


def test_an_import_setting_a_leave_date_sees_an_assignment_being_written(ana):
    """An assignment for Ana is written and not yet committed when the employees import looks at what she holds:
    the import waits for it, then names it at the leave date and writes nothing."""
    written, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}
    create = assign_ana(ana)

    def assign_and_hold():
        with transaction.atomic():
            create()
            written.set()
            assert release.wait(20), "test timed out"

    assigning = in_thread(assign_and_hold, results, "assign")
    assert written.wait(20)
    importing = in_thread(lambda: engine.run_import("employees", LEAVER.encode()), results, "import")
    importing.join(1.0)
    assert importing.is_alive(), "the import should wait for the assignment's lock on Ana"
    release.set()
    assigning.join(20)
    importing.join(20)

    report = results["import"]
    assert [(p.row, p.column) for p in report.problems] == [(2, LEAVE_COLUMN)], report.problems
    assert "1 assignment starts after this leave date: Ana García" in report.problems[0].message
    assert Employee.objects.get(pk=ana.pk).leave_date is None
    assert Assignment.objects.get().start_date == datetime.date(2025, 9, 1)


def test_an_import_of_a_second_holder_waits_for_a_role_becoming_single_holder(ana):
    """The admin has checked that Developer can become single-holder (Ana holds it on FIN) and not yet saved it when
    an import makes Bob a second Developer there: the import waits, then meets the new rule and writes nothing."""
    role = Role.objects.get(name="Developer")
    services.assignment_create(
        employee=ana, role=role, target=Department.objects.get(code="FIN"), start_date=datetime.date(2025, 1, 1)
    )
    EmployeeFactory(employee_number="E2", first_name="Bob")
    checked, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    changing = in_thread(held_role_change(role, checked, release), results, "change")
    assert checked.wait(20)
    data = "employee,role,department,start_date\nE2,Developer,FIN,2025-09-01\n"
    importing = in_thread(lambda: engine.run_import("assignments", data.encode()), results, "import")
    waits_then_both_finish(changing, importing, release, "the import should wait for the role's change")

    report = results["import"]
    assert [(p.row, p.column) for p in report.problems] == [(2, "B (role)")], report.problems
    assert "single holder" in report.problems[0].message
    assert Assignment.objects.count() == 1

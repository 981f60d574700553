"""Two transactions racing to break a date rule on MariaDB: exactly one wins.

Transaction A creates an Accountable and holds its transaction open; B tries
the same on the same project. B must wait on A's lock on the project row, then
see A's committed row and fail with a clear error. Without the lock, B would
not see A's uncommitted row and both would commit.
"""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from org import services
from org.models import Assignment, Department, Employee, Level, Role
from tests.factories import DepartmentFactory, EmployeeFactory, ProjectFactory, RoleFactory

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]


def waits_then_both_finish(
    holder: threading.Thread, waiter: threading.Thread, release: threading.Event, why: str
) -> None:
    """``waiter`` waits for a lock ``holder`` took (``why`` if it does not); once ``holder`` is released, both end."""
    waiter.join(1.0)
    assert waiter.is_alive(), why
    release.set()
    holder.join(20)
    waiter.join(20)


def in_thread(target, results: dict, key: str) -> threading.Thread:
    def run():
        try:
            results[key] = target()
        except Exception as exc:  # recorded for the assertions below
            results[key] = exc
        finally:
            close_old_connections()
            connection.close()

    thread = threading.Thread(target=run, name=key)
    thread.start()
    return thread


@pytest.mark.parametrize("rule", ["accountable", "single_holder", "self_overlap"])
def test_concurrent_writers_one_wins(rule):
    project = ProjectFactory()
    ana, bob = EmployeeFactory(), EmployeeFactory()
    role = RoleFactory(name="Project Manager", default_level=Level.ACCOUNTABLE, single_holder=True)
    if rule == "single_holder":
        role = RoleFactory(name="Tech Lead", default_level=Level.RESPONSIBLE, single_holder=True)
    if rule == "self_overlap":
        role = RoleFactory(name="Developer", default_level=Level.RESPONSIBLE)
        bob = ana
    first_wrote, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def writer_a():
        with transaction.atomic():
            created = services.assignment_create(
                employee=ana, role=role, target=project, start_date=datetime.date(2025, 1, 1)
            )
            first_wrote.set()
            assert release.wait(20), "test timed out"
        return created

    def writer_b():
        return services.assignment_create(employee=bob, role=role, target=project, start_date=datetime.date(2025, 6, 1))

    a = in_thread(writer_a, results, "a")
    assert first_wrote.wait(20)
    b = in_thread(writer_b, results, "b")
    waits_then_both_finish(a, b, release, "B should be waiting for A's lock on the project")

    assert isinstance(results["a"], Assignment)
    assert isinstance(results["b"], ValidationError), results["b"]
    assert Assignment.objects.filter(project=project).count() == 1


def test_lock_order_prevents_deadlock_in_hand_overs():
    """Two hand-overs touching the same two projects in opposite orders both finish."""
    first, second = ProjectFactory(), ProjectFactory()
    role = RoleFactory(name="Developer", default_level=Level.RESPONSIBLE)
    people = [EmployeeFactory() for _ in range(4)]
    ana, bob, carla, dan = people
    for person in (ana, bob):
        for target in (second, first) if person is bob else (first, second):
            services.assignment_create(employee=person, role=role, target=target, start_date=datetime.date(2024, 1, 1))
    results: dict[str, object] = {}
    start = threading.Barrier(2)

    def hand(leaver, successor):
        def run():
            start.wait(10)
            return services.employee_hand_over(leaver=leaver, successor=successor, on_date=datetime.date(2025, 1, 1))

        return run

    threads = [in_thread(hand(ana, carla), results, "ana"), in_thread(hand(bob, dan), results, "bob")]
    for thread in threads:
        thread.join(30)
    assert all(isinstance(results[k], list) and len(results[k]) == 2 for k in ("ana", "bob")), results


def test_concurrent_moves_cannot_close_a_loop_in_the_department_tree():
    a = DepartmentFactory(code="A")
    b = DepartmentFactory(code="B")
    first_wrote, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def move(child_pk: int, parent_pk: int, hold: bool):
        def run():
            with transaction.atomic():
                child = Department.objects.get(pk=child_pk)
                child.parent = Department.objects.get(pk=parent_pk)
                child.full_clean()
                child.save()
                if hold:
                    first_wrote.set()
                    assert release.wait(20), "test timed out"
            return child

        return run

    first = in_thread(move(a.pk, b.pk, hold=True), results, "a")
    assert first_wrote.wait(20)
    second = in_thread(move(b.pk, a.pk, hold=False), results, "b")
    waits_then_both_finish(first, second, release, "the second move should wait for the first one's locks")

    assert isinstance(results["a"], Department)
    assert isinstance(results["b"], ValidationError), results["b"]
    assert Department.objects.get(pk=b.pk).parent_id is None


@pytest.mark.parametrize("first", ["leave", "assignment"])
def test_a_leave_date_and_a_later_assignment_cannot_both_win(first):
    """Marking someone as left and giving them an assignment starting after the leave date, at the same time: the
    second waits for the first one's lock on the employee, then sees it and is refused."""
    project = ProjectFactory()
    ana = EmployeeFactory()
    role = RoleFactory(name="Developer", default_level=Level.RESPONSIBLE)
    first_wrote, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def leave():
        return services.employee_mark_left(
            employee=Employee.objects.get(pk=ana.pk), leave_date=datetime.date(2025, 6, 30)
        )

    def assign():
        return services.assignment_create(
            employee=Employee.objects.get(pk=ana.pk), role=role, target=project, start_date=datetime.date(2025, 9, 1)
        )

    writers = {"leave": leave, "assignment": assign}
    second = "assignment" if first == "leave" else "leave"

    def holding():
        with transaction.atomic():
            done = writers[first]()
            first_wrote.set()
            assert release.wait(20), "test timed out"
        return done

    a = in_thread(holding, results, first)
    assert first_wrote.wait(20)
    b = in_thread(writers[second], results, second)
    waits_then_both_finish(a, b, release, "the second writer should wait for the first one's lock on the employee")

    assert not isinstance(results[first], Exception), results[first]
    assert isinstance(results[second], ValidationError), results[second]
    ana.refresh_from_db()
    if first == "leave":
        assert ana.leave_date == datetime.date(2025, 6, 30) and not Assignment.objects.exists()
    else:
        assert ana.leave_date is None and Assignment.objects.count() == 1


def test_writing_an_assignment_locks_its_employee():
    project = ProjectFactory()
    ana = EmployeeFactory()
    role = RoleFactory(name="Developer", default_level=Level.RESPONSIBLE)
    employees = connection.ops.quote_name(Employee._meta.db_table)
    with CaptureQueriesContext(connection) as queries:
        services.assignment_create(employee=ana, role=role, target=project, start_date=datetime.date(2025, 9, 1))
    locks = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"] and f"FROM {employees}" in q["sql"]]
    assert len(locks) == 1, [q["sql"] for q in queries]


def test_ending_several_assignments_cannot_deadlock_with_a_single_write(monkeypatch):
    """A batch (End today on two assignments) and a single write on the batch's second target for its first
    employee. The batch locks every target, then every employee, before it writes any: the single write waits for
    it. Locking per assignment instead (target, employee, next target…) let each hold what the other waited for."""
    mob, web = ProjectFactory(code="MOB"), ProjectFactory(code="WEB")
    ana, bob = EmployeeFactory(), EmployeeFactory()
    role = RoleFactory(name="Developer", default_level=Level.RESPONSIBLE)
    start = datetime.date(2025, 1, 1)
    a1 = services.assignment_create(employee=ana, role=role, target=mob, start_date=start)
    a2 = services.assignment_create(employee=bob, role=role, target=web, start_date=start)
    a3 = services.assignment_create(employee=ana, role=role, target=web, start_date=start, level=Level.CONSULTED)
    first_ended, release = threading.Event(), threading.Event()
    end_one = services.assignment_end

    def end_pausing(*, assignment, end_date):
        ended = end_one(assignment=assignment, end_date=end_date)
        if threading.current_thread().name == "batch" and not first_ended.is_set():
            first_ended.set()
            assert release.wait(20), "test timed out"
        return ended

    monkeypatch.setattr(services, "assignment_end", end_pausing)
    today = datetime.date.today()
    results: dict[str, object] = {}
    batch = in_thread(
        lambda: services.assignments_end(
            assignments=Assignment.objects.with_related().filter(pk__in=[a1.pk, a2.pk]).order_by("pk"), end_date=today
        ),
        results,
        "batch",
    )
    assert first_ended.wait(20)
    single = in_thread(
        lambda: end_one(assignment=Assignment.objects.with_related().get(pk=a3.pk), end_date=today), results, "single"
    )
    waits_then_both_finish(batch, single, release, "the single write should wait for the batch's lock on WEB")
    assert results["batch"] == 2, results["batch"]
    assert isinstance(results["single"], Assignment), results["single"]
    assert set(Assignment.objects.values_list("end_date", flat=True)) == {today}


def test_handing_over_several_leavers_cannot_deadlock_with_a_single_write(monkeypatch):
    """The employee admin's "Hand over all their assignments to…" on two leavers, racing a write on the second
    leaver's project for the successor: handing over one leaver after another locked the successor before the
    second leaver's project."""
    p1, p2 = ProjectFactory(), ProjectFactory()
    role = RoleFactory(name="Developer", default_level=Level.RESPONSIBLE)
    other = RoleFactory(name="Tester", default_level=Level.RESPONSIBLE)
    l1, l2, successor = EmployeeFactory(), EmployeeFactory(), EmployeeFactory()
    services.assignment_create(employee=l1, role=role, target=p1, start_date=datetime.date(2024, 1, 1))
    services.assignment_create(employee=l2, role=role, target=p2, start_date=datetime.date(2024, 1, 1))
    between, release = threading.Event(), threading.Event()
    hand_over_one = services.employee_hand_over

    def pausing(*, leaver, successor, on_date):
        handed = hand_over_one(leaver=leaver, successor=successor, on_date=on_date)
        if threading.current_thread().name == "batch" and not between.is_set():
            between.set()
            assert release.wait(20), "test timed out"
        return handed

    monkeypatch.setattr(services, "employee_hand_over", pausing)
    results: dict[str, object] = {}
    on = datetime.date(2025, 1, 1)
    batch = in_thread(
        lambda: services.employees_hand_over(leavers=[l1, l2], successor=successor, on_date=on), results, "batch"
    )
    assert between.wait(20)
    single = in_thread(
        lambda: services.assignment_create(
            employee=Employee.objects.get(pk=successor.pk), role=other, target=p2, start_date=datetime.date(2025, 3, 1)
        ),
        results,
        "single",
    )
    waits_then_both_finish(batch, single, release, "the single write should wait for the batch's locks")
    assert len(results["batch"]) == 2, results["batch"]
    assert isinstance(results["single"], Assignment), results["single"]


def test_the_employee_page_cannot_deadlock_with_a_single_write(hr_client, monkeypatch):
    """A leave date and a new row saved on the employee page, racing a write on the new row's project for the same
    person: the form's leave-date check locked the person before the new row locked its project."""
    from org import admin as org_admin
    from tests.test_admin import employee_post, new_row_on

    p1, p2 = ProjectFactory(), ProjectFactory()
    role = RoleFactory(name="Developer", default_level=Level.RESPONSIBLE)
    other = RoleFactory(name="Tester", default_level=Level.RESPONSIBLE)
    ana = EmployeeFactory()
    services.assignment_create(employee=ana, role=role, target=p1, start_date=datetime.date(2024, 1, 1))
    url = reverse("admin:org_employee_change", args=[ana.pk])
    row = new_row_on(hr_client.get(url), role=role.pk, project=p2.pk, start_date="2025-01-01", end_date="2025-05-31")
    data = {**employee_post(ana, leave_date="2025-06-30"), **row}
    between, release = threading.Event(), threading.Event()
    check_rows = services.lock_for

    def pausing(assignments, **also):
        # Before the new rows' own locks (the call with nothing besides them): the page's checks have run by then.
        if threading.current_thread().name == "page" and not also and not between.is_set():
            between.set()
            assert release.wait(20), "test timed out"
        return check_rows(assignments, **also)

    monkeypatch.setattr(org_admin.services, "lock_for", pausing)
    results: dict[str, object] = {}
    page = in_thread(lambda: hr_client.post(url, data).status_code, results, "page")
    assert between.wait(20)
    single = in_thread(
        lambda: services.assignment_create(
            employee=Employee.objects.get(pk=ana.pk),
            role=other,
            target=p2,
            start_date=datetime.date(2025, 2, 1),
            end_date=datetime.date(2025, 4, 30),
        ),
        results,
        "single",
    )
    waits_then_both_finish(page, single, release, "the single write should wait for the page's locks")
    assert results["page"] == 302, results["page"]
    assert isinstance(results["single"], Assignment), results["single"]
    ana.refresh_from_db()
    assert ana.leave_date == datetime.date(2025, 6, 30)


def role_form_post(role, **changes):
    """The admin's role form, as the role's change page posts it with ``changes``."""
    from org.admin import RoleForm

    data = {
        "name": role.name,
        "description": role.description,
        "applies_to": role.applies_to,
        "default_level": role.default_level,
        **changes,
    }
    if data.pop("single_holder", role.single_holder):
        data["single_holder"] = "on"
    return RoleForm(data, instance=Role.objects.get(pk=role.pk))


def held_role_change(role, checked: threading.Event, release: threading.Event):
    """The admin's change making ``role`` single-holder: checked (so its lock is taken), then held open until
    ``release``, then saved."""

    def change():
        with transaction.atomic():
            form = role_form_post(role, single_holder=True)
            assert form.is_valid(), form.errors
            checked.set()
            assert release.wait(20), "test timed out"
            return form.save()

    return change


@pytest.fixture
def reviewers():
    """A project Ana reviews; Reviewer may have several holders on a target, for now."""
    project = ProjectFactory()
    role = RoleFactory(name="Reviewer", applies_to="both", default_level=Level.CONSULTED, single_holder=False)
    ana, bob = EmployeeFactory(), EmployeeFactory()
    start = datetime.date(2025, 1, 1)
    services.assignment_create(employee=ana, role=role, target=project, start_date=start)
    return project, role, bob, start


def test_a_role_made_single_holder_waits_for_a_second_holder_being_written(reviewers):
    """Bob's assignment as a second Reviewer is written and not yet committed when the admin makes Reviewer
    single-holder: the change waits for it, then sees two holders and is refused."""
    project, role, bob, start = reviewers
    written, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def assign_and_hold():
        with transaction.atomic():
            services.assignment_create(employee=bob, role=role, target=project, start_date=start)
            written.set()
            assert release.wait(20), "test timed out"

    def change():
        with transaction.atomic():
            form = role_form_post(role, single_holder=True)
            return form.save() if form.is_valid() else form.errors

    assigning = in_thread(assign_and_hold, results, "assign")
    assert written.wait(20)
    changing = in_thread(change, results, "change")
    waits_then_both_finish(assigning, changing, release, "the role's change should wait for the assignment")

    assert not isinstance(results["change"], Role), "Reviewer was made single-holder over two holders"
    assert "single_holder" in results["change"], results["change"]
    assert "overlap another holder" in str(results["change"]["single_holder"])
    assert Role.objects.get(pk=role.pk).single_holder is False
    assert Assignment.objects.filter(role=role).count() == 2


def test_an_assignment_written_while_a_role_becomes_single_holder_meets_the_new_rule(reviewers):
    """The admin has checked that Reviewer can become single-holder and not yet saved it when Bob is made a second
    Reviewer (with the role as read before): the assignment waits, then is checked against the new rule."""
    project, role, bob, start = reviewers
    checked, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    changing = in_thread(held_role_change(role, checked, release), results, "change")
    assert checked.wait(20)
    assigning = in_thread(
        lambda: services.assignment_create(employee=bob, role=role, target=project, start_date=start),
        results,
        "assign",
    )
    waits_then_both_finish(changing, assigning, release, "the assignment should wait for the role's change")

    assert Role.objects.get(pk=role.pk).single_holder is True
    assert isinstance(results["assign"], ValidationError), results["assign"]
    assert "single holder" in str(results["assign"])
    assert Assignment.objects.filter(role=role).count() == 1

"""The rules of PRODUCT.md, each broken once through org.services."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from org import services
from org.models import Assignment, Employee, Level
from tests.factories import AssignmentFactory, EmployeeFactory, ProjectFactory

D = datetime.date
pytestmark = pytest.mark.django_db


def messages_of(error: ValidationError) -> str:
    return " ".join(error.messages)


def test_create_uses_the_roles_default_level(ana, manager_role, project):
    assignment = services.assignment_create(employee=ana, role=manager_role, target=project, start_date=D(2025, 1, 1))
    assert assignment.level == Level.ACCOUNTABLE
    assert assignment.history.count() == 1


def test_one_accountable_per_target(ana, bob, manager_role, sponsor_role, project):
    services.assignment_create(employee=ana, role=manager_role, target=project, start_date=D(2025, 1, 1))
    with pytest.raises(ValidationError) as caught:
        services.assignment_create(employee=bob, role=sponsor_role, target=project, start_date=D(2025, 6, 1))
    assert "Only one Accountable per target" in messages_of(caught.value)
    assert "Ana García" in messages_of(caught.value)
    assert caught.value.message_dict.keys() == {"level"}
    assert Assignment.objects.count() == 1


def test_accountable_may_follow_once_the_previous_one_ended(ana, bob, manager_role, project):
    services.assignment_create(
        employee=ana, role=manager_role, target=project, start_date=D(2025, 1, 1), end_date=D(2025, 5, 31)
    )
    services.assignment_create(employee=bob, role=manager_role, target=project, start_date=D(2025, 6, 1))
    assert Assignment.objects.accountable().count() == 2


def test_accountable_rule_is_per_target(ana, bob, manager_role):
    first, second = ProjectFactory(), ProjectFactory()
    services.assignment_create(employee=ana, role=manager_role, target=first, start_date=D(2025, 1, 1))
    services.assignment_create(employee=bob, role=manager_role, target=second, start_date=D(2025, 1, 1))
    assert Assignment.objects.count() == 2


def test_single_holder_role_has_one_holder(ana, bob, project, developer_role):
    lead = developer_role.__class__.objects.create(name="Tech Lead", single_holder=True)
    services.assignment_create(employee=ana, role=lead, target=project, start_date=D(2025, 1, 1))
    with pytest.raises(ValidationError) as caught:
        services.assignment_create(employee=bob, role=lead, target=project, start_date=D(2024, 1, 1))
    assert "Tech Lead has a single holder" in messages_of(caught.value)
    assert "role" in caught.value.message_dict


def test_ordinary_role_has_many_holders(ana, bob, project, developer_role):
    for person in (ana, bob):
        services.assignment_create(employee=person, role=developer_role, target=project, start_date=D(2025, 1, 1))
    assert project.assignments.count() == 2


def test_an_assignment_never_overlaps_itself(ana, project, developer_role):
    services.assignment_create(
        employee=ana, role=developer_role, target=project, start_date=D(2025, 1, 1), end_date=D(2025, 3, 31)
    )
    with pytest.raises(ValidationError) as caught:
        services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2025, 3, 31))
    assert "No overlap with itself" in messages_of(caught.value)
    services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2025, 4, 1))


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"end_date": D(2024, 12, 31)}, "end_date", "cannot be before the start date"),
        ({"allocation": 101}, "allocation", "between 0 and 100"),
        ({"level": "X"}, "level", "R, A, C or I"),
    ],
)
def test_field_rules(ana, project, developer_role, changes, field, text):
    with pytest.raises(ValidationError) as caught:
        services.assignment_create(
            employee=ana, role=developer_role, target=project, start_date=D(2025, 1, 1), **changes
        )
    assert text in " ".join(caught.value.message_dict[field])
    assert not Assignment.objects.exists()


def test_role_must_apply_to_the_target(ana, department, manager_role):
    with pytest.raises(ValidationError) as caught:
        services.assignment_create(employee=ana, role=manager_role, target=department, start_date=D(2025, 1, 1))
    assert "applies to projects only" in " ".join(caught.value.message_dict["role"])


def test_exactly_one_target(ana, developer_role, project, department):
    assignment = Assignment(
        employee=ana, role=developer_role, project=project, department=department, start_date=D(2025, 1, 1)
    )
    with pytest.raises(ValidationError, match="exactly one department or one project"):
        services.assignment_save(assignment)


def test_end_and_history(ana, project, developer_role):
    assignment = services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2025, 1, 1))
    services.assignment_end(assignment=assignment, end_date=D(2025, 2, 28))
    assignment.refresh_from_db()
    assert assignment.end_date == D(2025, 2, 28)
    assert [h.history_type for h in assignment.history.order_by("history_date")] == ["+", "~"]


def test_end_before_start_is_refused(ana, project, developer_role):
    assignment = services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2025, 1, 1))
    with pytest.raises(ValidationError, match="cannot be before the start date"):
        services.assignment_end(assignment=assignment, end_date=D(2024, 1, 1))
    assignment.refresh_from_db()
    assert assignment.end_date is None


def test_change_level_keeps_the_earlier_level_on_record(ana, project, developer_role):
    assignment = services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2025, 1, 1))
    later = services.assignment_change_level(assignment=assignment, level=Level.CONSULTED, on_date=D(2025, 3, 1))
    assignment.refresh_from_db()
    assert assignment.end_date == D(2025, 2, 28)
    assert (later.level, later.start_date, later.end_date) == (Level.CONSULTED, D(2025, 3, 1), None)


def test_change_level_to_accountable_respects_the_rule(ana, bob, project, developer_role, manager_role):
    services.assignment_create(employee=bob, role=manager_role, target=project, start_date=D(2025, 1, 1))
    assignment = services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2025, 1, 1))
    with pytest.raises(ValidationError, match="Only one Accountable"):
        services.assignment_change_level(assignment=assignment, level=Level.ACCOUNTABLE, on_date=D(2025, 3, 1))
    assignment.refresh_from_db()
    assert assignment.end_date is None
    assert Assignment.objects.count() == 2


def test_hand_over_all_of_a_leavers_assignments(ana, bob, project, manager_role, developer_role, department, head_role):
    pm = services.assignment_create(employee=ana, role=manager_role, target=project, start_date=D(2024, 1, 1))
    head = services.assignment_create(employee=ana, role=head_role, target=department, start_date=D(2024, 1, 1))
    planned = services.assignment_create(
        employee=ana, role=developer_role, target=ProjectFactory(), start_date=D(2999, 9, 1)
    )
    done = services.assignment_create(
        employee=ana, role=developer_role, target=project, start_date=D(2023, 1, 1), end_date=D(2023, 12, 31)
    )

    handed = services.employee_hand_over(leaver=ana, successor=bob, on_date=D(2025, 6, 1))

    assert len(handed) == 3
    for original in (pm, head):
        original.refresh_from_db()
        assert original.end_date == D(2025, 5, 31)
    planned.refresh_from_db()
    assert planned.employee == bob and planned.start_date == D(2999, 9, 1)
    done.refresh_from_db()
    assert done.employee == ana
    bobs = Assignment.objects.filter(employee=bob).as_of(D(2025, 6, 1))
    assert {(a.role.name, a.level) for a in bobs} == {("Project Manager", "A"), ("Head of Department", "A")}


def test_hand_over_is_all_or_nothing(ana, bob, carla, project, manager_role, developer_role):
    services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2024, 1, 1))
    services.assignment_create(employee=ana, role=manager_role, target=ProjectFactory(), start_date=D(2024, 1, 1))
    # Bob already develops on the project: taking over Ana's Developer role would overlap.
    services.assignment_create(employee=bob, role=developer_role, target=project, start_date=D(2024, 1, 1))
    before = list(Assignment.objects.order_by("pk").values())

    with pytest.raises(ValidationError, match="No overlap with itself"):
        services.employee_hand_over(leaver=ana, successor=bob, on_date=D(2025, 6, 1))

    assert list(Assignment.objects.order_by("pk").values()) == before


@pytest.mark.parametrize("on_date", [D(1, 1, 1), D(2023, 12, 31), D(2024, 1, 1)])
def test_hand_over_on_or_before_the_start_of_an_assignment_under_way_is_refused(
    ana, bob, project, developer_role, on_date
):
    """Moving it whole would erase the past holder: only an assignment that has not started yet is moved."""
    dev = services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2024, 1, 1))
    before = list(Assignment.objects.order_by("pk").values())
    with pytest.raises(ValidationError) as caught:
        services.assignments_hand_over(assignments=[dev], successor=bob, on_date=on_date)
    assert caught.value.message_dict.keys() == {"on_date"}
    assert str(dev) in messages_of(caught.value)
    assert "must be after 2024-01-01" in messages_of(caught.value)
    assert list(Assignment.objects.order_by("pk").values()) == before
    with pytest.raises(ValidationError, match="must be after 2024-01-01"):
        services.employee_hand_over(leaver=ana, successor=bob, on_date=on_date)
    assert list(Assignment.objects.order_by("pk").values()) == before


def test_hand_over_of_an_assignment_starting_later_moves_it_whole(ana, bob, project, developer_role):
    today = timezone.localdate()
    planned = services.assignment_create(
        employee=ana, role=developer_role, target=project, start_date=today + datetime.timedelta(days=10)
    )
    services.assignments_hand_over(assignments=[planned], successor=bob, on_date=today)
    planned.refresh_from_db()
    assert planned.employee == bob
    assert Assignment.objects.count() == 1


def test_hand_over_to_oneself_is_refused(ana, project, developer_role):
    with pytest.raises(ValidationError, match="someone else"):
        services.employee_hand_over(leaver=ana, successor=ana, on_date=D(2025, 6, 1))


def test_mark_left_ends_open_assignments(ana, project, developer_role, manager_role):
    dev = services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2024, 1, 1))
    pm = services.assignment_create(
        employee=ana, role=manager_role, target=ProjectFactory(), start_date=D(2024, 1, 1), end_date=D(2026, 1, 1)
    )
    ended = services.employee_mark_left(employee=ana, leave_date=D(2025, 6, 30))
    assert ended == 2
    for assignment in (dev, pm):
        assignment.refresh_from_db()
        assert assignment.end_date == D(2025, 6, 30)
    assert Employee.objects.get(pk=ana.pk).leave_date == D(2025, 6, 30)


def test_mark_left_refuses_while_a_later_assignment_is_planned(ana, project, developer_role):
    services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2025, 9, 1))
    with pytest.raises(ValidationError, match="hand it over first"):
        services.employee_mark_left(employee=ana, leave_date=D(2025, 6, 30))
    assert Employee.objects.get(pk=ana.pk).leave_date is None


def test_mark_left_before_hire_is_refused(ana):
    with pytest.raises(ValidationError, match="before the hire date"):
        services.employee_mark_left(employee=ana, leave_date=D(2019, 1, 1))


def test_no_assignment_after_leaving(project, developer_role):
    leaver = EmployeeFactory(leave_date=D(2025, 1, 31))
    with pytest.raises(ValidationError, match="left on 2025-01-31"):
        services.assignment_create(employee=leaver, role=developer_role, target=project, start_date=D(2025, 2, 1))
    with pytest.raises(ValidationError, match="must end by then"):
        services.assignment_create(employee=leaver, role=developer_role, target=project, start_date=D(2025, 1, 1))


def test_assignments_end_skips_already_ended(ana, bob, project, developer_role):
    AssignmentFactory(employee=ana, role=developer_role, project=project, end_date=D(2024, 2, 1))
    open_one = AssignmentFactory(employee=bob, role=developer_role, project=project)
    ended = services.assignments_end(assignments=Assignment.objects.with_related(), end_date=D(2025, 1, 1))
    assert ended == 1
    open_one.refresh_from_db()
    assert open_one.end_date == D(2025, 1, 1)


def test_department_cannot_sit_under_itself(department):
    child = department.__class__.objects.create(code="ACC", name="Accounting", parent=department)
    grandchild = department.__class__.objects.create(code="PAY", name="Payables", parent=child)
    department.parent = grandchild
    with pytest.raises(ValidationError, match="No cycles in the department tree"):
        department.full_clean()
    department.parent = department
    with pytest.raises(ValidationError, match="its own parent"):
        department.full_clean()


def test_employee_cannot_manage_their_own_manager(ana, bob):
    bob.manager = ana
    bob.save()
    ana.manager = bob
    with pytest.raises(ValidationError, match="own chain of managers"):
        ana.full_clean()


def test_role_problems_name_a_few_conflicts_and_count_them_all(ana, department, sponsor_role):
    for code in ("D1", "D2", "D3", "D4"):
        target = type(department).objects.create(code=code, name=code)
        services.assignment_create(employee=ana, role=sponsor_role, target=target, start_date=D(2024, 1, 1))
    problems = services.role_problems(role=sponsor_role, applies_to="project", single_holder=True)
    assert problems.keys() == {"applies_to"}
    (message,) = problems["applies_to"]
    assert message.startswith("4 assignments of Sponsor are on departments, so it cannot apply to projects only:")
    assert message.endswith("and 1 more.")
    assert services.role_problems(role=sponsor_role, applies_to="both", single_holder=True) == {}

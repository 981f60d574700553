"""Every write to the org domain goes through these functions.

Rules that span rows and dates cannot be held by MariaDB or SQLite constraints,
so they are checked here, inside a transaction, after locking the target
(department or project) row, then the employee's, with ``SELECT … FOR UPDATE``, then sharing a lock on the
role's (``lock_roles``), which a change of the role's rules takes alone. Two transactions that
touch the same target therefore run their checks one after the other, and the
second sees what the first committed (READ COMMITTED).

Errors are ``ValidationError``s keyed by the field they concern, each naming
the rule that was broken, so admin forms and import reports can show them.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import DateField, Exists, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext_lazy

from org.models import AppliesTo, Assignment, Department, Employee, Level, Project, Role, Target

ONE_DAY = datetime.timedelta(days=1)
#: The audit trail's change reason column holds this many characters.
REASON_LENGTH = 100


def _because(assignment: Assignment, reason: str) -> Assignment:
    """Have the audit trail record why ``assignment`` is saved (django-simple-history's change reason), in the
    language of whoever does it."""
    assignment._change_reason = Truncator(reason).chars(REASON_LENGTH)
    return assignment


def _period(assignment: Assignment) -> str:
    if assignment.end_date is None:
        return _("from %(start)s, open-ended") % {"start": assignment.start_date.isoformat()}
    return _("from %(start)s to %(end)s") % {
        "start": assignment.start_date.isoformat(),
        "end": assignment.end_date.isoformat(),
    }


def _overlaps(a: Assignment, b: Assignment) -> bool:
    a_end = a.end_date or datetime.date.max
    b_end = b.end_date or datetime.date.max
    return a.start_date <= b_end and b.start_date <= a_end


def _same_target(a: Assignment, b: Assignment) -> bool:
    return (a.department_id, a.project_id) == (b.department_id, b.project_id)


# --- Departments and employees -------------------------------------------------


def department_check_parent(*, department: Department, parent: Department | None) -> None:
    """A department may not sit under itself, directly or through its sub-departments.

    Inside a transaction the department and the new parent's chain are locked
    first (in id order), so two moves racing to close a loop run one after the
    other and the second sees the first.
    """
    if parent is None:
        return
    if department.pk is not None and parent.pk == department.pk:
        raise ValidationError({"parent": _("A department cannot be its own parent.")})
    if department.pk is None:
        return
    if connection.in_atomic_block:
        chain = _ancestors(parent.pk, dict(Department.objects.values_list("id", "parent_id")))
        lock = sorted({*chain, department.pk})
        list(Department.objects.select_for_update().filter(pk__in=lock).order_by("pk").values_list("pk"))
    if department.pk in _ancestors(parent.pk, dict(Department.objects.values_list("id", "parent_id"))):
        raise ValidationError(
            {
                "parent": _("No cycles in the department tree: %(parent)s is inside %(department)s.")
                % {"parent": parent, "department": department}
            }
        )


def _ancestors(start: int, parent_of: dict[int, int | None]) -> list[int]:
    """``start`` and every department above it (stops at a loop already stored)."""
    chain: list[int] = []
    node = start
    while node is not None and node not in chain:
        chain.append(node)
        node = parent_of.get(node)
    return chain


def employee_check_manager(*, employee: Employee, manager: Employee | None) -> None:
    """Nobody manages themselves, directly or through their reports."""
    if manager is None or employee.pk is None:
        return
    node, seen = manager.pk, set()
    while node is not None and node not in seen:
        if node == employee.pk:
            raise ValidationError({"manager": _("An employee cannot be in their own chain of managers.")})
        seen.add(node)
        node = Employee.objects.filter(pk=node).values_list("manager_id", flat=True).first()


# --- Roles ---------------------------------------------------------------------

#: How many conflicting assignments a message names; the rest are counted.
EXAMPLES_NAMED = 3


def role_problems(*, role: Role, applies_to: str, single_holder: bool) -> dict[str, list[str]]:
    """Why ``role`` cannot be changed to apply to ``applies_to`` with ``single_holder``, given the assignments on
    record (every one of them, past ones included: history must keep obeying the rules). Messages by field, each
    naming a few of the conflicting assignments and counting them all; empty when the change is fine."""
    problems: dict[str, list[str]] = {}
    if role.pk is None:
        return problems
    if connection.in_atomic_block:
        # Writers of the role's assignments share this lock (lock_roles): one being written is waited for and then
        # seen below, and one written later waits for the change and meets the new rules.
        list(Role.objects.select_for_update().filter(pk=role.pk).values_list("pk"))
    held = Assignment.objects.filter(role_id=role.pk)
    misplaced = {
        AppliesTo.DEPARTMENT: (
            held.filter(project__isnull=False),
            ngettext_lazy(
                "%(count)d assignment of %(role)s is on a project, so it cannot apply to departments only: "
                "%(examples)s.",
                "%(count)d assignments of %(role)s are on projects, so it cannot apply to departments only: "
                "%(examples)s.",
                "count",
            ),
        ),
        AppliesTo.PROJECT: (
            held.filter(department__isnull=False),
            ngettext_lazy(
                "%(count)d assignment of %(role)s is on a department, so it cannot apply to projects only: "
                "%(examples)s.",
                "%(count)d assignments of %(role)s are on departments, so it cannot apply to projects only: "
                "%(examples)s.",
                "count",
            ),
        ),
    }.get(applies_to)
    if misplaced is not None:
        message = _conflicts_message(role, *misplaced)
        if message:
            problems["applies_to"] = [message]
    if single_holder:
        forever = Value(datetime.date.max, output_field=DateField())
        spans = held.annotate(until=Coalesce("end_date", forever))
        other_holder = spans.filter(
            Q(department_id=OuterRef("department_id")) | Q(project_id=OuterRef("project_id")),
            start_date__lte=OuterRef("until"),
            until__gte=OuterRef("start_date"),
        ).exclude(pk=OuterRef("pk"))
        message = _conflicts_message(
            role,
            spans.filter(Exists(other_holder)),
            ngettext_lazy(
                "%(count)d assignment of %(role)s overlaps another holder on the same target, so it cannot have a "
                "single holder: %(examples)s.",
                "%(count)d assignments of %(role)s overlap another holder on the same target, so it cannot have a "
                "single holder: %(examples)s.",
                "count",
            ),
        )
        if message:
            problems["single_holder"] = [message]
    return problems


def _conflicts_message(role: Role, conflicting, message) -> str:
    count = conflicting.count()
    if not count:
        return ""
    named = conflicting.with_related().order_by("start_date", "pk")[:EXAMPLES_NAMED]
    return message % {"count": count, "role": role, "examples": assignments_named(list(named), count)}


def assignments_named(assignments: Sequence[Assignment], count: int) -> str:
    """The first few of ``count`` assignments, each with its period, and how many more: for a message."""
    examples = "; ".join(f"{a} {_period(a)}" for a in assignments[:EXAMPLES_NAMED])
    if count > EXAMPLES_NAMED:
        examples = _("%(examples)s and %(more)d more") % {"examples": examples, "more": count - EXAMPLES_NAMED}
    return examples


# --- Assignment rules ----------------------------------------------------------


def assignment_check_fields(assignment: Assignment) -> None:
    """The rules that concern one assignment alone."""
    errors: dict[str, list[str]] = defaultdict(list)
    if bool(assignment.department_id) == bool(assignment.project_id):
        errors["__all__"].append(_("An assignment targets exactly one department or one project."))
    elif assignment.role_id and not assignment.role.applies_to_target(assignment.target):
        errors["role"].append(
            _("The role %(role)s applies to %(applies)s only.")
            % {"role": assignment.role, "applies": assignment.role.get_applies_to_display().lower()}
        )
    if assignment.start_date is None:
        errors["start_date"].append(_("A start date is required."))
    elif assignment.end_date is not None and assignment.end_date < assignment.start_date:
        errors["end_date"].append(_("The end date cannot be before the start date."))
    if assignment.allocation is not None and not 0 <= assignment.allocation <= 100:
        errors["allocation"].append(_("Allocation must be between 0 and 100 %."))
    if assignment.level not in Level.values:
        errors["level"].append(_("The RACI level must be R, A, C or I."))
    employee = assignment.employee if assignment.employee_id else None
    if employee is not None and employee.leave_date is not None and assignment.start_date is not None:
        if assignment.start_date > employee.leave_date:
            errors["start_date"].append(
                _("%(employee)s left on %(date)s; an assignment cannot start after that.")
                % {"employee": employee, "date": employee.leave_date.isoformat()}
            )
        elif assignment.end_date is None or assignment.end_date > employee.leave_date:
            errors["end_date"].append(
                _("%(employee)s left on %(date)s; the assignment must end by then.")
                % {"employee": employee, "date": employee.leave_date.isoformat()}
            )
    if errors:
        raise ValidationError(dict(errors))


def assignment_conflicts(candidate: Assignment, others: Iterable[Assignment]) -> dict[str, list[str]]:
    """The date rules of PRODUCT.md, checked between ``candidate`` and ``others``.

    Pure: callers pass every assignment that could conflict (same target,
    overlapping dates). Returns messages keyed by the field they concern.
    """
    errors: dict[str, list[str]] = defaultdict(list)
    for other in others:
        if candidate.pk is not None and other.pk == candidate.pk:
            continue
        if not (_same_target(candidate, other) and _overlaps(candidate, other)):
            continue
        facts = {"holder": other.employee, "target": candidate.target, "period": _period(other), "role": other.role}
        if candidate.level == Level.ACCOUNTABLE and other.level == Level.ACCOUNTABLE:
            errors["level"].append(
                _("Only one Accountable per target: %(holder)s is Accountable for %(target)s %(period)s.") % facts
            )
        if candidate.role_id == other.role_id:
            if candidate.employee_id == other.employee_id:
                errors["start_date"].append(
                    _("No overlap with itself: %(holder)s already holds %(role)s on %(target)s %(period)s.") % facts
                )
            elif candidate.role.single_holder:
                errors["role"].append(
                    _("%(role)s has a single holder: %(holder)s holds it on %(target)s %(period)s.") % facts
                )
    return dict(errors)


def assignments_batch_violations(
    batch: Sequence[Assignment], saved: Iterable[Assignment] = ()
) -> list[dict[str, list[str]]]:
    """Every rule, checked in memory, for each assignment of ``batch`` (as many dicts of messages by field, in order).

    ``batch`` are the assignments about to be written together, checked against each other; ``saved`` are stored
    assignments they must also respect (those the batch changes must be left out). ``assignment_conflicts`` only
    objects to two assignments on one target that are both Accountable or share a role (and, unless single-holder,
    an employee), so grouping by those keys hands it every possible rival without comparing all pairs of a target.
    Related objects (employee, role, department or project) must be set on every assignment, not only their ids.
    """
    groups: dict[tuple, list[Assignment]] = defaultdict(list)

    def keys(a: Assignment) -> list[tuple]:
        target = (a.department_id, a.project_id)
        found = [(target, a.role_id) if a.role.single_holder else (target, a.role_id, a.employee_id)]
        if a.level == Level.ACCOUNTABLE:
            found.append((target, Level.ACCOUNTABLE))
        return found

    for a in saved:
        for key in keys(a):
            groups[key].append(a)
    batch_keys = [keys(a) for a in batch]
    for a, found in zip(batch, batch_keys, strict=True):
        for key in found:
            groups[key].append(a)
    results: list[dict[str, list[str]]] = []
    for a, found in zip(batch, batch_keys, strict=True):
        errors: dict[str, list[str]] = defaultdict(list)
        try:
            assignment_check_fields(a)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors[field].extend(messages)
        rivals = {id(o): o for key in found for o in groups[key] if o is not a}  # unsaved ones have no pk to tell
        for field, messages in assignment_conflicts(a, rivals.values()).items():
            errors[field].extend(messages)
        results.append(dict(errors))
    return results


def lock_targets(*, department_ids: Iterable[int] = (), project_ids: Iterable[int] = ()) -> None:
    """Lock target rows in one fixed order (departments, then projects, by id) so
    that transactions locking several targets cannot deadlock each other."""
    department_ids = sorted({i for i in department_ids if i})
    project_ids = sorted({i for i in project_ids if i})
    if department_ids:
        list(Department.objects.select_for_update().filter(pk__in=department_ids).order_by("pk").values_list("pk"))
    if project_ids:
        list(Project.objects.select_for_update().filter(pk__in=project_ids).order_by("pk").values_list("pk"))


#: What ``lock_for`` reads of an assignment: read only these when the assignments are read to be locked.
LOCKED_BY = ("department", "project", "employee")


def lock_for(
    assignments: Iterable[Assignment],
    *,
    department_ids: Iterable[int | None] = (),
    project_ids: Iterable[int | None] = (),
    employee_ids: Iterable[int | None] = (),
) -> None:
    """Lock the targets of ``assignments`` (and these departments and projects), then their employees (and these),
    each kind by id: the order every writer keeps (one assignment's writer locks its target, then its employee),
    so that a batch and a single write, or two batches, cannot each hold what the other waits for. Run it before
    writing several assignments."""
    assignments = list(assignments)
    lock_targets(
        department_ids=[*(a.department_id for a in assignments), *department_ids],
        project_ids=[*(a.project_id for a in assignments), *project_ids],
    )
    lock_employees([*(a.employee_id for a in assignments), *employee_ids])


def lock_employees(employee_ids: Iterable[int | None]) -> dict[int, datetime.date | None]:
    """Lock these employees by id (after any target: the order every writer keeps) and return their leave dates
    as stored now: one set by a writer that held the lock before is seen."""
    employee_ids = sorted({i for i in employee_ids if i})
    if not employee_ids:
        return {}
    locked = Employee.objects.select_for_update().filter(pk__in=employee_ids).order_by("pk")
    return dict(locked.values_list("pk", "leave_date"))


def lock_roles(role_ids: Iterable[int | None]) -> dict[int, tuple[str, bool]]:
    """Share a lock on these roles (after targets and employees: the order every writer keeps) and return where
    each applies and whether it has a single holder, as stored now. Writers of assignments do not wait for each
    other here; a change of a role's rules (``role_problems``) locks it alone, so it waits for the assignments of
    the role being written, and they wait for it and are checked against the new rules."""
    ids = sorted({i for i in role_ids if i})
    if not ids:
        return {}
    if connection.vendor != "mysql" or not connection.in_atomic_block:  # SQLite runs one writer at a time
        return {
            pk: (where, single)
            for pk, where, single in Role.objects.filter(pk__in=ids).values_list("pk", "applies_to", "single_holder")
        }
    table = connection.ops.quote_name(Role._meta.db_table)
    with connection.cursor() as cursor:  # the ORM has select_for_update, not a shared lock
        cursor.execute(
            f"SELECT id, applies_to, single_holder FROM {table} WHERE id IN ({', '.join(['%s'] * len(ids))}) "
            "ORDER BY id LOCK IN SHARE MODE",
            ids,
        )
        return {pk: (where, bool(single)) for pk, where, single in cursor.fetchall()}


def _lock_role_of(assignment: Assignment) -> None:
    """Lock the assignment's role, after its target and employee, and read its rules afresh into it."""
    rules = lock_roles([assignment.role_id]).get(assignment.role_id)
    if rules is not None:
        assignment.role.applies_to, assignment.role.single_holder = rules


def _lock_target_of(assignment: Assignment) -> None:
    lock_targets(department_ids=[assignment.department_id], project_ids=[assignment.project_id])


def _lock_employee_of(assignment: Assignment) -> None:
    """Lock the assignment's employee, after its target (the order every writer keeps), and read their leave date
    afresh: a leave date set meanwhile must be seen (``employee_mark_left`` takes the same lock).

    Unless the employee in hand has a leave date of its own making: the employee's admin page saves a new leave
    date (or clears one, for a rehire) with the assignments added on it, and those are checked against the date
    the page is saving (``Employee.leave_date_edited``)."""
    if not assignment.employee_id:
        return
    stored = lock_employees([assignment.employee_id]).get(assignment.employee_id)
    employee = assignment.employee
    if not employee.leave_date_edited():
        employee.leave_date = stored
        employee.loaded_leave_date = stored


def assignment_rivals(assignment: Assignment, *, exclude_pks: Sequence[int] = ()) -> list[Assignment]:
    """Saved assignments on the same target whose dates overlap ``assignment``."""
    qs = Assignment.objects.select_related("employee", "role").overlapping(assignment.start_date, assignment.end_date)
    qs = qs.filter(department_id=assignment.department_id, project_id=assignment.project_id)
    if assignment.pk is not None:
        qs = qs.exclude(pk=assignment.pk)
    if exclude_pks:
        qs = qs.exclude(pk__in=exclude_pks)
    return list(qs)


def assignment_validate(assignment: Assignment, *, pending: Iterable[Assignment] = ()) -> None:
    """Check every rule for ``assignment`` as it would be saved.

    Must run inside a transaction: it locks the target, then the employee, and
    the locks are what make the check hold until commit. ``pending`` are unsaved or changed
    assignments of the same batch (an admin inline, a hand-over) that the
    check must also respect.
    """
    if not assignment.level and assignment.role_id:
        assignment.level = assignment.role.default_level
    _lock_target_of(assignment)
    _lock_employee_of(assignment)
    _lock_role_of(assignment)
    assignment_check_fields(assignment)
    pending = [p for p in pending if p is not assignment]
    rivals = assignment_rivals(assignment, exclude_pks=[p.pk for p in pending if p.pk])
    errors = assignment_conflicts(assignment, [*rivals, *pending])
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def assignment_save(assignment: Assignment, *, pending: Iterable[Assignment] = ()) -> Assignment:
    assignment_validate(assignment, pending=pending)
    assignment.save()
    return assignment


def assignment_create(
    *,
    employee: Employee,
    role: Role,
    target: Target,
    start_date: datetime.date,
    level: str = "",
    end_date: datetime.date | None = None,
    allocation: int | None = None,
    note: str = "",
) -> Assignment:
    assignment = Assignment(
        employee=employee,
        role=role,
        department=target if isinstance(target, Department) else None,
        project=target if isinstance(target, Project) else None,
        level=level,
        start_date=start_date,
        end_date=end_date,
        allocation=allocation,
        note=note,
    )
    return assignment_save(assignment)


@transaction.atomic
def assignment_end(*, assignment: Assignment, end_date: datetime.date) -> Assignment:
    """End an assignment on ``end_date`` (the last day held)."""
    assignment.end_date = end_date
    return assignment_save(assignment)


@transaction.atomic
def assignments_end(*, assignments: Iterable[Assignment], end_date: datetime.date) -> int:
    """End every assignment still open on ``end_date``; all or nothing."""
    assignments = list(assignments)
    lock_for(assignments)
    ended = 0
    for assignment in assignments:
        if assignment.end_date is not None and assignment.end_date <= end_date:
            continue
        if assignment.start_date > end_date:
            raise ValidationError(
                _("%(assignment)s starts on %(start)s, after %(end)s; it cannot end before it starts.")
                % {"assignment": assignment, "start": assignment.start_date, "end": end_date}
            )
        assignment_end(assignment=assignment, end_date=end_date)
        ended += 1
    return ended


def assignment_level_change(
    *, assignment: Assignment, level: str, on_date: datetime.date, changes: Mapping[str, object] | None = None
) -> tuple[Assignment, Assignment | None]:
    """The rows a change of level from ``on_date`` leaves, unsaved and unchecked against other assignments:
    ``assignment`` ended the day before and a copy at ``level`` starting on ``on_date``, which also takes
    ``changes`` (other fields for the new period: its end date, allocation or note); or, when ``on_date`` is the
    assignment's first day, the assignment itself changed, and ``None``."""
    if level not in Level.values:
        raise ValidationError({"level": _("The RACI level must be R, A, C or I.")})
    if not assignment.is_active_on(on_date) and on_date != assignment.start_date:
        raise ValidationError(
            {
                "start_date": _("%(assignment)s is not in force on %(date)s.")
                % {"assignment": assignment, "date": on_date}
            }
        )
    changes = dict(changes or {})
    if on_date == assignment.start_date:
        for field, value in {**changes, "level": level}.items():
            setattr(assignment, field, value)
        return assignment, None
    successor = _copy(assignment, **changes, start_date=on_date, level=level)
    assignment.end_date = on_date - ONE_DAY
    reason = _("Level changed to %(level)s from %(date)s") % {"level": Level(level).label, "date": on_date}
    return _because(assignment, reason), _because(successor, reason)


@transaction.atomic
def assignment_change_level(
    *, assignment: Assignment, level: str, on_date: datetime.date, changes: Mapping[str, object] | None = None
) -> Assignment:
    """Change the RACI level from ``on_date``, keeping the earlier level on record.

    The assignment ends the day before and a copy at the new level (taking ``changes`` too) starts on
    ``on_date``; when ``on_date`` is its first day, it is changed in place. Returns the assignment at the new level.
    """
    earlier, successor = assignment_level_change(assignment=assignment, level=level, on_date=on_date, changes=changes)
    if successor is None:
        return assignment_save(earlier)
    assignment_save(earlier, pending=[successor])
    return assignment_save(successor, pending=[earlier])


def _copy(assignment: Assignment, **changes) -> Assignment:
    fields = {
        f.name: getattr(assignment, f.name)
        for f in Assignment._meta.concrete_fields
        if f.name not in ("id",) and not f.name.startswith("history")
    }
    fields.update(changes)
    return Assignment(**fields)


@transaction.atomic
def assignments_hand_over(
    *, assignments: Iterable[Assignment], successor: Employee, on_date: datetime.date
) -> list[Assignment]:
    """Give ``successor`` these assignments from ``on_date``.

    One that starts before ``on_date`` ends the day before and the successor's
    copy starts on ``on_date``; one that has not started yet (after today) and
    starts on or after ``on_date`` is moved to the successor whole. One under
    way by today cannot be handed over on or before its start: moving it would
    erase who held it. One already ended before ``on_date`` is left alone.
    All or nothing.
    """
    assignments = [a for a in assignments if a.end_date is None or a.end_date >= on_date]
    today = timezone.localdate()
    for assignment in assignments:
        if assignment.start_date <= today and on_date <= assignment.start_date:
            raise ValidationError(
                {
                    "on_date": _(
                        "%(assignment)s has been held since %(start)s: the hand-over date must be after %(start)s."
                    )
                    % {"assignment": assignment, "start": assignment.start_date.isoformat()}
                }
            )
    lock_for(assignments, employee_ids=[successor.pk])
    handed: list[Assignment] = []
    handed_over = _("Handed over to %(employee)s (%(number)s) from %(date)s") % {
        "employee": successor,
        "number": successor.employee_number,
        "date": on_date,
    }
    for assignment in assignments:
        if assignment.employee_id == successor.pk:
            raise ValidationError(
                {
                    "successor": _("%(employee)s already holds %(assignment)s.")
                    % {"employee": successor, "assignment": assignment}
                }
            )
        if assignment.start_date >= on_date:
            assignment.employee = successor
            handed.append(_because(assignment, handed_over))
            continue
        taken_over = _("Taken over from %(employee)s (%(number)s) on %(date)s") % {
            "employee": assignment.employee,
            "number": assignment.employee.employee_number,
            "date": on_date,
        }
        handed.append(_because(_copy(assignment, employee=successor, start_date=on_date), taken_over))
        assignment.end_date = on_date - ONE_DAY
        assignment_save(_because(assignment, handed_over))
    for new in handed:
        assignment_save(new, pending=handed)
    return handed


@transaction.atomic
def employee_hand_over(*, leaver: Employee, successor: Employee, on_date: datetime.date) -> list[Assignment]:
    """Hand over every assignment ``leaver`` holds on or after ``on_date``."""
    if leaver.pk == successor.pk:
        raise ValidationError({"successor": _("The successor must be someone else.")})
    if successor.leave_date is not None and successor.leave_date < on_date:
        raise ValidationError(
            {"successor": _("%(employee)s left on %(date)s.") % {"employee": successor, "date": successor.leave_date}}
        )
    open_assignments = Assignment.objects.select_related("role", "department", "project", "employee").filter(
        employee=leaver
    )
    return assignments_hand_over(
        assignments=open_assignments.open_on(on_date).order_by("start_date", "pk"),
        successor=successor,
        on_date=on_date,
    )


@transaction.atomic
def employees_hand_over(
    *, leavers: Sequence[Employee], successor: Employee, on_date: datetime.date
) -> list[Assignment]:
    """Hand over every assignment each of ``leavers`` holds on or after ``on_date``; all or nothing. Every
    leaver's targets and the successor are locked first: one leaver after another would lock the successor
    before the next leaver's targets, against the order every writer keeps."""
    lock_for(Assignment.objects.filter(employee__in=leavers).only(*LOCKED_BY), employee_ids=[successor.pk])
    return [
        handed
        for leaver in leavers
        for handed in employee_hand_over(leaver=leaver, successor=successor, on_date=on_date)
    ]


def employee_leave_problems(*, employee: Employee, leave_date: datetime.date) -> list[str]:
    """Why ``employee`` cannot be marked as left on ``leave_date``, if anything.

    Inside a transaction it first locks the targets of what the person holds on that day, then the person (the
    order assignment writers keep), so that an assignment written meanwhile waits for the leave date, and the
    answer holds until commit.
    """
    if connection.in_atomic_block:
        lock_for(Assignment.objects.filter(employee_id=employee.pk).open_on(leave_date).only(*LOCKED_BY))
    problems = []
    if employee.hire_date and leave_date < employee.hire_date:
        problems.append(_("The leave date cannot be before the hire date."))
    starting_later = (
        Assignment.objects.with_related()
        .filter(employee_id=employee.pk, start_date__gt=leave_date)
        .order_by("start_date")
    )
    for assignment in starting_later:
        problems.append(
            _("%(assignment)s starts on %(start)s, after the leave date; hand it over first.")
            % {"assignment": assignment, "start": assignment.start_date.isoformat()}
        )
    return problems


@transaction.atomic
def employee_mark_left(
    *, employee: Employee, leave_date: datetime.date, changes: Mapping[str, object] | None = None
) -> int:
    """Record that ``employee`` left on ``leave_date`` and end what they still
    hold on that day. Returns how many assignments were ended.

    ``changes`` are other fields changed at the same time (an admin form's), saved with the leave date as one
    change in the audit trail."""
    problems = employee_leave_problems(employee=employee, leave_date=leave_date)  # locks the employee
    if problems:
        raise ValidationError({"leave_date": problems})
    employee = Employee.objects.get(pk=employee.pk)
    for field, value in (changes or {}).items():
        setattr(employee, field, value)
    employee.leave_date = leave_date
    employee.save()
    still_open = Assignment.objects.select_related("role", "department", "project").filter(employee=employee)
    still_open = still_open.open_on(leave_date).exclude(end_date=leave_date)
    ended = 0
    left = _("Ended: %(employee)s left on %(date)s") % {"employee": employee, "date": leave_date}
    for assignment in still_open:
        assignment.employee = employee
        assignment_end(assignment=_because(assignment, left), end_date=leave_date)
        ended += 1
    return ended

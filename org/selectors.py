"""Reads of the org domain: who is responsible for what, on any date.

Each selector returns a QuerySet with its related rows joined, so a caller
that lists the result runs one query whatever its size.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import connection, connections, router
from django.db.models import Count, Exists, Func, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext, ngettext

from org.models import Assignment, Department, Employee, Level, Project, ProjectStatus, Role, Target

T = TypeVar("T")
#: Figures over the whole company are kept this long at most; any change to the data renews them at once.
REMEMBER_SECONDS = 300


def _day(as_of: datetime.date | None) -> datetime.date:
    return as_of or timezone.localdate()


#: The order of who holds what on a target: Accountable first (``responsible_for``, a project's team).
RESPONSIBLE_ORDER = ("level", "role__name", "employee__last_name", "employee__first_name")
#: The order of what a person holds (the employee page's current roles).
HOLDINGS_ORDER = ("level", "role__name", "pk")


def responsible_for(*, target: Target, as_of: datetime.date | None = None) -> QuerySet[Assignment]:
    """Who holds what on ``target`` on ``as_of`` (default today), Accountable first."""
    return Assignment.objects.for_target(target).as_of(_day(as_of)).with_related().order_by(*RESPONSIBLE_ORDER)


def accountable_for(*, target: Target, as_of: datetime.date | None = None) -> Assignment | None:
    return responsible_for(target=target, as_of=as_of).filter(level=Level.ACCOUNTABLE).first()


def workload_of(in_force: QuerySet[Assignment] | list[Assignment]) -> dict[str, int]:
    """The allocation total (percent) and the number of the assignments ``in_force``: summed from a list
    already read, or in one query."""
    if isinstance(in_force, QuerySet):
        return in_force.aggregate(total=Coalesce(Sum("allocation"), 0), count=Count("pk"))
    return {"total": sum(a.allocation or 0 for a in in_force), "count": len(in_force)}


def _has_accountable_on(day: datetime.date, target_field: str) -> Exists:
    return Exists(Assignment.objects.as_of(day).accountable().filter(**{target_field: OuterRef("pk")}))


def projects_without_accountable(*, as_of: datetime.date | None = None) -> QuerySet[Project]:
    """Projects running on ``as_of`` with nobody Accountable for them.

    Running means: active or on hold, or, on a day gone by, closed with an end date on or after that day (it was
    running then); started by then (no start date counts as started); not ended before the day. A closed project
    is not running today or later, whatever its end date (one closed early has it ahead). Proposed projects are
    not running yet.
    """
    day = _day(as_of)
    running_status = Q(status__in=[ProjectStatus.ACTIVE, ProjectStatus.ON_HOLD])
    if day < timezone.localdate():
        running_status |= Q(status=ProjectStatus.CLOSED, end_date__gte=day)
    running = (
        running_status
        & (Q(start_date__isnull=True) | Q(start_date__lte=day))
        & (Q(end_date__isnull=True) | Q(end_date__gte=day))
    )
    return (
        Project.objects.filter(running)
        .exclude(_has_accountable_on(day, "project"))
        .select_related("department")
        .order_by("code")
    )


def departments_without_accountable(*, as_of: datetime.date | None = None) -> QuerySet[Department]:
    """Active departments with no head (no Accountable) on ``as_of``."""
    day = _day(as_of)
    return (
        Department.objects.active()
        .exclude(_has_accountable_on(day, "department"))
        .select_related("parent")
        .order_by("name")
    )


def workload(*, as_of: datetime.date | None = None, employees: QuerySet[Employee] | None = None) -> QuerySet[Employee]:
    """Employees annotated with ``total_allocation`` (percent) and
    ``assignment_count`` over the assignments they hold on ``as_of``."""
    day = _day(as_of)
    in_force = Q(assignments__start_date__lte=day) & (
        Q(assignments__end_date__isnull=True) | Q(assignments__end_date__gte=day)
    )
    base = Employee.objects.all() if employees is None else employees
    return base.select_related("department").annotate(
        total_allocation=Coalesce(
            Sum("assignments__allocation", filter=in_force), Value(0), output_field=IntegerField()
        ),
        assignment_count=Count("assignments", filter=in_force),
    )


def department_subtree_ids(*departments: Department | int) -> set[int]:
    """The ids of ``departments`` and of every department under them, in one query."""
    roots = [department if isinstance(department, int) else department.pk for department in departments]
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Department.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    return set().union(*(subtree_ids(root, children) for root in roots))


def subtree_ids(root: int, children: Mapping[int | None, Iterable[int]]) -> set[int]:
    """``root`` and every id below it in ``children`` (parent id → child ids), with no query."""
    found, stack = set(), [root]
    while stack:
        node = stack.pop()
        if node not in found:
            found.add(node)
            stack.extend(children.get(node, ()))
    return found


def department_tree() -> list[tuple[Department, int]]:
    """Every department with its depth, in tree order, in one query."""
    departments = list(Department.objects.order_by("name"))
    children: dict[int | None, list[Department]] = {}
    for department in departments:
        children.setdefault(department.parent_id, []).append(department)
    ordered: list[tuple[Department, int]] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for child in children.get(parent_id, []):
            ordered.append((child, depth))
            walk(child.pk, depth + 1)

    walk(None, 0)
    return ordered


def assignments_ending(*, within_days: int = 30, as_of: datetime.date | None = None) -> QuerySet[Assignment]:
    """Assignments in force on ``as_of`` whose end date falls in the ``within_days`` days from it."""
    day = _day(as_of)
    return (
        Assignment.objects.as_of(day)
        .filter(end_date__lte=day + datetime.timedelta(days=within_days))
        .with_related()
        .order_by("end_date", "pk")
    )


def employees_employed_on(day: datetime.date) -> QuerySet[Employee]:
    """Hired by ``day`` (no hire date counts as hired) and not yet left."""
    return Employee.objects.filter(
        (Q(hire_date__isnull=True) | Q(hire_date__lte=day)) & (Q(leave_date__isnull=True) | Q(leave_date__gte=day))
    )


def overallocated(*, as_of: datetime.date | None = None) -> QuerySet[Employee]:
    """Employees whose allocations in force on ``as_of`` add up to more than 100 %, in name order.

    Each person's total is a subquery on their own assignments, so the
    database walks the staff down the name index and stops once it has a
    page: a page costs a few dozen index lookups, not a sum over the company.
    """
    day = _day(as_of)
    own = Assignment.objects.as_of(day).filter(employee=OuterRef("pk")).order_by()
    # SUM and COUNT written as plain functions: one row over the person's assignments, no GROUP BY to build.
    total = Subquery(own.values(total=Func("allocation", function="SUM")), output_field=IntegerField())
    count = Subquery(own.values(count=Func("pk", function="COUNT")), output_field=IntegerField())
    return (
        Employee.objects.annotate(total_allocation=Coalesce(total, Value(0)), assignment_count=count)
        .filter(total_allocation__gt=100)
        .select_related("department")
        .order_by("last_name", "first_name", "employee_number")
    )


def employees_without_assignment(*, as_of: datetime.date | None = None) -> QuerySet[Employee]:
    """Employees on the staff on ``as_of`` who hold nothing that day."""
    day = _day(as_of)
    holds = Exists(Assignment.objects.as_of(day).filter(employee=OuterRef("pk")))
    return employees_employed_on(day).exclude(holds).select_related("department")


def leavers_with_assignments(*, as_of: datetime.date | None = None) -> QuerySet[Employee]:
    """People who left before ``as_of`` but still hold an assignment in force that day or later."""
    day = _day(as_of)
    holds = Exists(Assignment.objects.open_on(day).filter(employee=OuterRef("pk")))
    return Employee.objects.filter(holds, leave_date__lt=day).select_related("department")


@dataclass(frozen=True)
class StillInUse:
    """What still relies on a department made inactive: to end or move, as a warning says."""

    department: Department
    assignments: int = 0  # in force on the day or starting later
    employees: int = 0  # at home there, not yet left
    projects: int = 0  # owned, not closed
    departments: int = 0  # active sub-departments

    def __bool__(self) -> bool:
        return any((self.assignments, self.employees, self.projects, self.departments))

    def __str__(self) -> str:
        """'Finance (FIN) is inactive now but still has 3 assignments in force or to come, …'."""
        counted = (
            (
                self.assignments,
                ngettext(
                    "%(count)d assignment in force or to come",
                    "%(count)d assignments in force or to come",
                    self.assignments,
                ),
            ),
            (
                self.employees,
                ngettext("%(count)d employee at home there", "%(count)d employees at home there", self.employees),
            ),
            (self.projects, ngettext("%(count)d project not closed", "%(count)d projects not closed", self.projects)),
            (
                self.departments,
                ngettext("%(count)d active sub-department", "%(count)d active sub-departments", self.departments),
            ),
        )
        uses = ", ".join(text % {"count": count} for count, text in counted if count)
        message = gettext("%(department)s is inactive now but still has %(uses)s; end or move them if it is closing.")
        return message % {"department": self.department, "uses": uses}


def departments_still_in_use(
    departments: Sequence[Department], *, as_of: datetime.date | None = None, closing: Iterable[int] = ()
) -> list[StillInUse]:
    """What still relies on each of ``departments`` from ``as_of`` on, in four queries whatever their number; the
    sub-departments ``closing`` (made inactive at the same time) are not counted."""
    day = _day(as_of)
    ids = [d.pk for d in departments]

    def per_department(queryset: QuerySet, field: str) -> dict[int, int]:
        return dict(queryset.filter(**{f"{field}__in": ids}).values_list(field).annotate(n=Count("pk")).order_by())

    counts = {
        "assignments": per_department(Assignment.objects.open_on(day), "department_id"),
        "employees": per_department(
            Employee.objects.filter(Q(leave_date__isnull=True) | Q(leave_date__gte=day)), "department_id"
        ),
        "projects": per_department(Project.objects.exclude(status=ProjectStatus.CLOSED), "department_id"),
        "departments": per_department(
            Department.objects.exclude(pk__in=list(closing)).filter(active=True), "parent_id"
        ),
    }
    found = [StillInUse(d, **{name: n.get(d.pk, 0) for name, n in counts.items()}) for d in departments]
    return [in_use for in_use in found if in_use]


def manager_chain(employee: Employee, *, limit: int = 50) -> list[Employee]:
    """``employee``'s manager, their manager, and so on up to the top, nearest first, in one query.

    A recursive CTE (SQLite and MariaDB both have one) walks the chain in the
    database, so neither the query count nor the memory grows with the company.
    ``limit`` bounds the walk even if a cycle slipped past the services' check.
    """
    table = connection.ops.quote_name(Employee._meta.db_table)
    sql = f"""
        WITH RECURSIVE chain (id, depth) AS (
            SELECT manager_id, 1 FROM {table} WHERE id = %s AND manager_id IS NOT NULL
            UNION ALL
            SELECT e.manager_id, c.depth + 1 FROM {table} e JOIN chain c ON e.id = c.id
            WHERE e.manager_id IS NOT NULL AND c.depth < %s
        )
        SELECT e.* FROM {table} e JOIN chain c ON e.id = c.id ORDER BY c.depth
    """
    return list(Employee.objects.raw(sql, [employee.pk, limit]))


_AUDITED = (Department, Employee, Project, Role, Assignment)
#: The data version read inside ``one_data_version`` (empty until read); None outside one.
_version_read: ContextVar[list[tuple[int | None, ...]] | None] = ContextVar("org_data_version", default=None)


@contextlib.contextmanager
def one_data_version() -> Iterator[None]:
    """Inside the block ``data_version`` asks the database once and answers the same after.

    For a request that only reads (``org.middleware.OneDataVersionPerRead``): a page that
    shows several remembered figures reads them all from one version, for one query. Nothing
    written inside the block would be seen by ``remembered`` until it ends, so it must not write.
    """
    token = _version_read.set([])
    try:
        yield
    finally:
        _version_read.reset(token)


def data_version() -> tuple[int | None, ...]:
    """The newest audit-trail row of each domain table, in one query (once inside ``one_data_version``).

    Every write to the domain — services, admin, imports, the generator —
    leaves a history row, so this changes whenever any domain row does.
    """
    read = _version_read.get()
    if read:
        return read[0]
    version = _newest_history_ids()
    if read is not None:
        read.append(version)
    return version


def _newest_history_ids() -> tuple[int | None, ...]:
    alias = router.db_for_read(Assignment)
    quote = connections[alias].ops.quote_name
    newest = ", ".join(f"(SELECT MAX({quote('history_id')}) FROM {quote(table)})" for table in _history_tables())
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT {newest}")
        return tuple(cursor.fetchone())


@functools.cache
def _history_tables() -> tuple[str, ...]:
    # Looked up once: django-simple-history builds a new manager class on every ``Model.history`` access.
    return tuple(model.history.model._meta.db_table for model in _AUDITED)


def remembered(name: str, compute: Callable[[], T]) -> T:
    """``compute()``, kept in the cache until the data changes (``data_version``) or ``REMEMBER_SECONDS`` pass.

    For figures over the whole company (counts, gap totals) that no index can
    answer in bounded time: the first request after a change pays for them,
    the others read them back. ``compute`` must return something small, which
    callers must not change: this process hands the same object to every
    request while the cache still holds it (``_unpickled``).
    """
    key = "org:{}:{}".format(name, ".".join(str(part) for part in data_version()))
    # Unpickling a cached tree of a few hundred departments costs more than the query behind it; has_key
    # asks whether the cache (shared, expiring, cleared) still holds the figure without reading it back.
    with _unpickled_lock:
        value = _unpickled.get(key, _MISSING)
        if value is not _MISSING:
            _unpickled.move_to_end(key)
    if value is not _MISSING and cache.has_key(key):
        return value
    value = cache.get_or_set(key, compute, REMEMBER_SECONDS)
    with _unpickled_lock:
        _unpickled[key] = value
        _unpickled.move_to_end(key)
        # The least recently used go first: figures of versions gone by, and searches nobody repeats, never the
        # company-wide figures every page reads (a stream of distinct searches used to empty it all).
        while len(_unpickled) > UNPICKLED_KEPT:
            _unpickled.popitem(last=False)
    return value


#: How many remembered figures this process keeps as objects, least recently used dropped first.
UNPICKLED_KEPT = 256
_unpickled: OrderedDict[str, object] = OrderedDict()
_unpickled_lock = threading.Lock()
_MISSING = object()


# --- Change history -------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    """One field of a change: its label and the values before and after, as text ("" for none)."""

    label: str
    old: str
    new: str


@dataclass(frozen=True)
class Change:
    """One row of the audit trail, ready to show: when, who, what, and which fields went from what to what."""

    when: datetime.datetime
    who: str
    kind: str  # "+" created, "~" changed, "-" deleted (django-simple-history's history_type)
    subject: str
    reason: str
    fields: tuple[FieldChange, ...]


def change_history(sources: Sequence[QuerySet], page: int, per_page: int) -> tuple[bool, list[Change]]:
    """A page of the audit-trail rows of ``sources`` (querysets of historical rows), newest first.

    Whether an older page exists, and the page's changes, each with what its fields were before: one query for
    the page's ids, then per source one for its rows and one for their predecessors, whatever the history's
    length. A source is usually one object's own rows, or the rows of the assignments on it.
    """
    keys = [
        source.order_by().annotate(source=Value(number, IntegerField())).values_list("history_date", "source", "pk")
        for number, source in enumerate(sources)
    ]
    union = keys[0].union(*keys[1:], all=True) if len(keys) > 1 else keys[0]
    start = (page - 1) * per_page
    picked = list(union.order_by("-history_date", "-source", "-pk")[start : start + per_page + 1])
    has_older, picked = len(picked) > per_page, picked[:per_page]
    rows: dict[tuple[int, int], Any] = {}
    for number, source in enumerate(sources):
        ids = [history_id for _when, from_source, history_id in picked if from_source == number]
        if ids:
            rows.update(((number, row.pk), row) for row in _with_predecessors(source.model, ids))
    return has_older, [_change(rows[(number, history_id)]) for _when, number, history_id in picked]


def _with_predecessors(model: type, ids: list[int]) -> list[Any]:
    """The historical rows ``ids`` of ``model``, each with ``before``: the row it changed (None for none)."""
    related = [f.name for f in model._meta.concrete_fields if f.is_relation and f.name != "history_user"]
    previous = model.objects.filter(id=OuterRef("id"), pk__lt=OuterRef("pk")).order_by("-pk").values("pk")[:1]
    rows = list(
        model.objects.filter(pk__in=ids)
        .select_related("history_user", *related)
        .annotate(previous_id=Subquery(previous))
    )
    wanted = [row.previous_id for row in rows if row.history_type == "~" and row.previous_id]
    before = model.objects.select_related(*related).in_bulk(wanted) if wanted else {}
    for row in rows:
        row.before = before.get(row.previous_id)
    return rows


def _change(row: Any) -> Change:
    # In the model's own order (the audit trail's table puts the related fields last).
    fields = [row._meta.get_field(f.name) for f in row.instance_type._meta.concrete_fields if f.name != "id"]
    if row.history_type == "~":
        before = row.before
        changed = [f for f in fields if before is None or getattr(before, f.attname) != getattr(row, f.attname)]
        shown = [(f, _shown(before, f) if before is not None else "", _shown(row, f)) for f in changed]
    elif row.history_type == "+":
        shown = [(f, "", new) for f in fields if (new := _shown(row, f))]
    else:
        shown = []
    user = row.history_user
    return Change(
        when=row.history_date,
        who=(user.get_full_name() or user.get_username()) if user is not None else "",
        kind=row.history_type,
        subject=_subject(row),
        reason=row.history_change_reason or "",
        fields=tuple(FieldChange(capfirst(f.verbose_name), old, new) for f, old, new in shown),
    )


def _subject(row: Any) -> str:
    """What a historical row is about, in words; its related rows are joined (``_with_predecessors``)."""
    if isinstance(row, Assignment.history.model):
        return Assignment.describe(
            employee=_shown(row, row._meta.get_field("employee")),
            role=_shown(row, row._meta.get_field("role")),
            level=row.get_level_display(),
            target=_shown(row, row._meta.get_field("project" if row.project_id else "department")),
        )
    return str(row.instance)


def _shown(row: Any, field: Any) -> str:
    """The value of ``field`` on ``row`` as text: related rows by name (or #id when gone), choices by label."""
    value = getattr(row, field.attname)
    if value is None or value == "":
        return ""
    if field.is_relation:
        related = getattr(row, field.name)
        return str(related) if related is not None else f"#{value}"
    if field.flatchoices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, datetime.date):
        return date_format(value, "DATE_FORMAT")
    return Truncator(str(value)).chars(CHANGE_TEXT_SHOWN)


#: Longer texts (a note) are cut to this many characters in a change.
CHANGE_TEXT_SHOWN = 200


def history_sources(
    obj: Department | Project | Employee,
    *,
    own: bool = True,
    assignments: Callable[[QuerySet], QuerySet] = lambda rows: rows,
) -> list[QuerySet]:
    """The audit trail of ``obj`` for ``change_history``: its own rows (unless ``own`` is false) and those of
    every assignment that was ever on it (held by it, for an employee), narrowed by ``assignments``.

    "Ever": an assignment handed over whole, or moved to another target, keeps its earlier rows here.
    """
    field = {Department: "department_id", Project: "project_id", Employee: "employee_id"}[type(obj)]
    ever = Assignment.history.filter(**{field: obj.pk}).values("id")
    held = assignments(Assignment.history.filter(id__in=ever))
    return [type(obj).history.filter(id=obj.pk), held] if own else [held]

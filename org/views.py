"""The staff pages: read-only, for those who may read them (org.access), a bounded number of queries each.

Views stay thin: reads come from ``org.selectors`` and the filter sets, tables
do the rendering. Every table is sorted, paginated without a count
(``LazyPaginator``) and exported as CSV or XLSX with ``?_export=csv|xlsx``
(``&_table=NAME`` on pages with several tables).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import django_filters
import django_tables2 as tables
import tablib
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, Page
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.http import content_disposition_header
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django_tables2.export import TableExport
from django_tables2.paginators import LazyPaginator

from org import selectors, timeline
from org.access import may_read_pages, scope_of
from org.filters import AsOfForm, AssignmentFilter, EmployeeFilter, ProjectFilter
from org.imports.exporting import neutralise, xlsx_table
from org.models import Assignment, Department, Employee, Level, Project, Role
from org.tables import (
    AssignmentTable,
    DepartmentTable,
    EmployeeTable,
    ProjectTable,
    RowsInMemory,
    WorkloadTable,
    department_url,
    employee_url,
    project_url,
    sort_rows,
)

PER_PAGE = 25
MATRIX_PER_PAGE = 50
#: Beyond this a page number is taken as malformed rather than sent to the database as a huge OFFSET.
MAX_PAGE = 100_000
DASHBOARD_ROWS = 5
#: A gap list with at most this many rows is remembered as their ids (see ``gap_list``).
GAP_IDS_REMEMBERED = 1000
EXPORT_MAX_ROWS = 50_000
EXPORT_FORMATS = ("csv", "xlsx")
HISTORY_PER_PAGE = 20
#: A person or a project with at most this many assignments in all has them read in one query, and each table of
#: its page is cut from them in memory (``_held``). Nearly all do: in the bench's large company a project has 129
#: at most, a person 29. One with more has each table's page read from the database.
WHOLE_HISTORY_ROWS = 200
#: A project's timeline draws its whole history up to WHOLE_HISTORY_ROWS; beyond, the latest this many of its
#: Accountable and single-holder roles' assignments.
TIMELINE_ROWS = 200


# --- Tables: paging and export ----------------------------------------------------------


def _page_number(request: HttpRequest, param: str, problems: list[str]) -> int:
    raw = request.GET.get(param, "")
    if not raw:
        return 1
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PAGE:
        problems.append(gettext("“%(page)s” is not a page number; showing the first page.") % {"page": raw})
        return 1
    return number


def _paginate(request: HttpRequest, table: tables.Table, problems: list[str]) -> tables.Table:
    """Show the page of ``table`` the request asks for, without counting the rows; a bad number is a message."""
    if table.unknown_sort:  # set by _table; django-tables2 would ignore them without a word
        problems.append(
            gettext("There is no column “%(columns)s” to sort by; showing the usual order.")
            % {"columns": ", ".join(table.unknown_sort)}
        )
    number = _page_number(request, table.prefixed_page_field, problems)
    try:
        table.paginate(paginator_class=LazyPaginator, per_page=PER_PAGE, page=number)
    except EmptyPage:
        problems.append(gettext("There is no page %(page)s; showing the first page.") % {"page": number})
        table.paginate(paginator_class=LazyPaginator, per_page=PER_PAGE, page=1)
    return table


def _table(
    request: HttpRequest, table_class: type[tables.Table], data: QuerySet, name: str = "", **kwargs: Any
) -> tables.Table:
    """A table sorted by the request's ``sort`` parameter (``NAME-sort`` when ``name`` is given)."""
    # Not Table(request=...): that would paginate with Django's counting Paginator before ours.
    table = table_class(data, prefix=f"{name}-" if name else "", **kwargs)
    table.request = request
    table.export_name = name or None
    asked = [
        field for value in request.GET.getlist(table.prefixed_order_by_field) for field in value.split(",") if field
    ]
    sortable = {column.name for column in table.columns.iterall() if column.orderable}
    table.unknown_sort = [field for field in asked if field.removeprefix("-") not in sortable]
    if order_by := [field for field in asked if field not in table.unknown_sort]:
        table.order_by = order_by
    return table


def _export_format(request: HttpRequest, problems: list[str], *, invalid: bool) -> str | None:
    """The format of the export the request asks for (``_export``); None for the page: when it asks for none,
    and, with a message, for a format there is no export in, or while the filters (``invalid``) have a mistake,
    which would export a file of the wrong rows or none."""
    export_format = request.GET.get("_export")
    if not export_format:
        return None
    if export_format not in EXPORT_FORMATS:
        problems.append(
            gettext("There is no export as “%(format)s”; the tables export as CSV or XLSX.") % {"format": export_format}
        )
        return None
    if invalid:
        problems.append(gettext("Nothing was exported: first correct the mistakes shown with the filters."))
        return None
    return export_format


def _export(
    request: HttpRequest,
    filename: str,
    *all_tables: tables.Table,
    problems: list[str],
    invalid: bool = False,
    exported_elsewhere: tuple[str, ...] = (),
) -> HttpResponse | None:
    """The CSV or XLSX of the table the request names, with the filters and order applied; None for the page
    (``_export_format``), with a message when the page has no such table (``exported_elsewhere`` names those its
    view exports itself).

    An export is built in memory, so one over ``EXPORT_MAX_ROWS`` rows is refused with a message on the page.
    """
    export_format = _export_format(request, problems, invalid=invalid)
    if export_format is None:
        return None
    wanted = request.GET.get("_table") or None
    table = next((t for t in all_tables if t.export_name == wanted), None)
    if table is None:  # a link of another version of the page, or one typed by hand: the page, and which there are
        names = ", ".join([*(t.export_name for t in all_tables if t.export_name), *exported_elsewhere])
        if not names:  # a page of one table, which needs no name: its export is asked without _table
            message = gettext("This page has one table, exported without _table.")
            problems.append(message)
            return None
        if wanted is None:
            message = gettext("Say which table to export (_table): this page has %(names)s.")
        else:
            message = gettext("This page has no table called “%(name)s”; it has %(names)s.")
        problems.append(message % {"name": wanted, "names": names})
        return None
    if _too_big_to_export(table.data.data, problems):
        return None
    header, *rows = table.as_values()
    return _export_response(export_format, f"{filename}-{wanted}" if wanted else filename, header, rows)


def _export_response(export_format: str, name: str, header: list[Any], rows: Iterable[list[Any]]) -> HttpResponse:
    """``header`` and ``rows`` as the file ``name``.``export_format`` to download.

    Every text cell, the header's too, is made safe for a spreadsheet as ``export_org`` makes it
    (``org.imports.exporting``): one starting as a formula would (``=``, ``+``, ``-``, ``@``) gets an apostrophe,
    and in XLSX a control character is spelt as Excel does and a text spelling an error (``#N/A``) stays text.
    Numbers stay numbers.
    """
    header, rows = [neutralise(cell) for cell in header], [[neutralise(cell) for cell in row] for row in rows]
    if export_format == "xlsx":  # not tablib's: it writes a text spelling an error (#N/A) as an error cell
        content = xlsx_table(name, header, rows)
    else:
        content = tablib.Dataset(*rows, headers=header).export(export_format)
    response = HttpResponse(content, content_type=TableExport.FORMATS[export_format])
    response["Content-Disposition"] = content_disposition_header(True, f"{name}.{export_format}")
    return response


def _too_big_to_export(rows: QuerySet | list, problems: list[str]) -> bool:
    """More than ``EXPORT_MAX_ROWS`` rows (counted no further): say so on the page."""
    counted = len(rows) if isinstance(rows, list) else rows.order_by()[: EXPORT_MAX_ROWS + 1].count()
    if counted <= EXPORT_MAX_ROWS:
        return False
    problems.append(
        gettext("That table has more than %(limit)s rows; narrow the filters to export it.")
        % {"limit": EXPORT_MAX_ROWS}
    )
    return True


def _page(request: HttpRequest, queryset: QuerySet, param: str, per_page: int, problems: list[str]) -> Page:
    paginator = LazyPaginator(queryset, per_page)
    try:
        return paginator.page(_page_number(request, param, problems))
    except EmptyPage:
        problems.append(gettext("There is no page %(page)s; showing the first page.") % {"page": request.GET[param]})
        return paginator.page(1)


def _as_of(request: HttpRequest) -> tuple[AsOfForm, datetime.date]:
    form = AsOfForm(request.GET)
    return form, form.day()


def _url_of(obj: Model) -> str:
    if isinstance(obj, Employee):
        return employee_url(obj)
    if isinstance(obj, Project):
        return project_url(obj)
    if isinstance(obj, Department):
        return department_url(obj)
    if isinstance(obj, Assignment):
        return employee_url(obj.employee)
    raise TypeError(obj)


def _admin_url(request: HttpRequest, obj: Model) -> str | None:
    """The admin change page of ``obj`` for a user who may change it, else None."""
    opts = obj._meta
    # Whether the user may enter the admin is known already (org.access); their permissions cost two queries.
    if admin.site.has_permission(request) and request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}"):
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return None


def _history(request: HttpRequest, obj: Department | Project | Employee, problems: list[str]) -> dict | None:
    """A page of the changes to ``obj`` and to the assignments on it, newest first, for those who may see them:
    HR administrators, and department and project managers for what is in their scope (org.access); None for
    anyone else.

    A manager sees an employee's own changes when the employee's home department is theirs, and the changes to
    that employee's assignments on their departments and projects.
    """
    scope = scope_of(request.user)
    if not (scope.everything or scope.department_ids or scope.project_ids):
        return None
    own = scope.holds(obj)
    if not own and not isinstance(obj, Employee):
        return None
    sources = selectors.history_sources(obj, own=own, assignments=scope.assignments)
    number = _page_number(request, "history_page", problems)
    has_older, changes = selectors.change_history(sources, number, HISTORY_PER_PAGE)
    if not changes and number > 1:
        problems.append(gettext("There is no page %(page)s; showing the first page.") % {"page": number})
        number = 1
        has_older, changes = selectors.change_history(sources, number, HISTORY_PER_PAGE)
    return {"changes": changes, "number": number, "has_older": has_older, "partial": not scope.everything}


def staff_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A staff page: a visitor who is not logged in goes to the login page; a user who may not read the pages
    (in no group that may, or who has left: org.access) gets 403 and the page that says so."""

    @login_required
    @functools.wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_read_pages(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return checked


# --- A person's or a project's assignments --------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """The assignments of a person or a project in force on a day, ended before it and starting after it: lists
    when its whole history was read at once, else querysets."""

    in_force: QuerySet[Assignment] | list[Assignment]
    past: QuerySet[Assignment] | list[Assignment]
    future: QuerySet[Assignment] | list[Assignment]

    @property
    def whole(self) -> list[Assignment] | None:
        """Every assignment, when the whole history was read at once; None when it is left to querysets."""
        return [*self.past, *self.in_force, *self.future] if isinstance(self.in_force, list) else None


def _held(everything: QuerySet[Assignment], day: datetime.date) -> Held:
    """``everything`` (one person's or project's assignments, what the tables show joined) split by ``day``.

    One query reads it whole when it is short (``WHOLE_HISTORY_ROWS``), as nearly every history is: each table
    is then cut from the list rather than asked of the database, about 1 ms apiece. A longer one is left to
    querysets, one page per table; the rows read to find that out are then read for nothing.
    """
    rows = list(everything[: WHOLE_HISTORY_ROWS + 1])
    if len(rows) > WHOLE_HISTORY_ROWS:
        return Held(everything.as_of(day), everything.past(day), everything.future(day))
    return Held(
        in_force=[a for a in rows if a.is_active_on(day)],
        past=[a for a in rows if a.end_date is not None and a.end_date < day],
        future=[a for a in rows if a.start_date > day],
    )


def _in_order(rows: QuerySet | list, *order: str) -> QuerySet | RowsInMemory:
    """``rows`` in ``order`` (ORM paths), for a table: by the database, or in memory for a list."""
    return rows.order_by(*order) if isinstance(rows, QuerySet) else RowsInMemory(rows, *order)


# --- Dashboard and gap lists -------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    title: str
    rows: Callable[[datetime.date], QuerySet]
    table_class: type[tables.Table]


GAPS: dict[str, Gap] = {
    "projects-without-accountable": Gap(
        _("Running projects with nobody Accountable"),
        lambda day: selectors.projects_without_accountable(as_of=day),
        ProjectTable,
    ),
    "departments-without-accountable": Gap(
        _("Active departments with no head (nobody Accountable)"),
        lambda day: selectors.departments_without_accountable(as_of=day),
        DepartmentTable,
    ),
    "assignments-ending": Gap(
        _("Assignments ending in the next 30 days"),
        lambda day: selectors.assignments_ending(within_days=30, as_of=day),
        AssignmentTable,
    ),
    "overallocated": Gap(
        _("Employees allocated over 100 %"), lambda day: selectors.overallocated(as_of=day), WorkloadTable
    ),
    "unassigned": Gap(
        _("Employees on the staff with no current assignment"),
        lambda day: selectors.employees_without_assignment(as_of=day).order_by(
            "last_name", "first_name", "employee_number"
        ),
        EmployeeTable,
    ),
    "leavers": Gap(
        _("People who have left but still hold assignments"),
        lambda day: selectors.leavers_with_assignments(as_of=day).order_by("leave_date", "pk"),
        EmployeeTable,
    ),
}


def _gap_rows(day: datetime.date) -> dict[str, QuerySet]:
    return {kind: gap.rows(day) for kind, gap in GAPS.items()}


def _dashboard_figures(day: datetime.date) -> dict[str, Any]:
    """The dashboard's counts and the first rows of each gap: small, so it can be remembered."""
    return {
        "counts": {
            "staff": selectors.employees_employed_on(day).count(),
            "departments": Department.objects.active().count(),
            "projects": Project.objects.count(),
            "assignments": Assignment.objects.as_of(day).count(),
        },
        "gaps": {kind: (rows.count(), list(rows[:DASHBOARD_ROWS])) for kind, rows in _gap_rows(day).items()},
    }


@staff_page
def dashboard(request: HttpRequest) -> HttpResponse:
    day = timezone.localdate()
    # Counting over the whole company takes time no index saves, so the figures are remembered until the data changes.
    figures = selectors.remembered(f"dashboard:{day.isoformat()}", lambda: _dashboard_figures(day))
    gaps = [
        {
            "kind": kind,
            "title": gap.title,
            "count": figures["gaps"][kind][0],
            "sample": [(row, _url_of(row)) for row in figures["gaps"][kind][1]],
        }
        for kind, gap in GAPS.items()
    ]
    numbers = figures["counts"]
    counts = [
        (_("employees on the staff"), numbers["staff"], reverse("org:employees") + "?employment=current"),
        (_("active departments"), numbers["departments"], reverse("org:departments")),
        (_("projects"), numbers["projects"], reverse("org:projects")),
        (_("assignments in force"), numbers["assignments"], reverse("org:responsible")),
    ]
    return render(request, "org/dashboard.html", {"day": day, "counts": counts, "gaps": gaps})


@staff_page
def gap_list(request: HttpRequest, kind: str) -> HttpResponse:
    gap = GAPS.get(kind)
    if gap is None:
        raise Http404(gettext("No such list."))
    day = timezone.localdate()
    rows = gap.rows(day)
    # A gap is usually a handful of rows found by looking at every employee or project: remember which ones
    # (while they are few) until the data changes, and let each page, sort and export look only at those.
    ids = selectors.remembered(
        f"gap:{kind}:{day.isoformat()}", lambda: list(rows.values_list("pk", flat=True)[: GAP_IDS_REMEMBERED + 1])
    )
    if len(ids) <= GAP_IDS_REMEMBERED:
        rows = _among(rows, ids)
    table = _table(request, gap.table_class, rows)
    problems: list[str] = []
    if response := _export(request, kind, table, problems=problems):
        return response
    _paginate(request, table, problems)
    return render(request, "org/gap_list.html", {"gap": gap, "day": day, "table": table, "problems": problems})


def _among(rows: QuerySet, ids: list[int]) -> QuerySet:
    """``rows`` among ``ids``, which ``rows`` itself found for this data version and day: its order and joins
    kept, its conditions (a look at every employee's assignments) not checked again. Figures that its
    conditions compute (annotations) are computed again.
    """
    if rows.query.annotations:
        return rows.filter(pk__in=ids)
    among = rows.model.objects.filter(pk__in=ids).order_by(*rows.query.order_by)
    return among.select_related(*rows.query.select_related) if rows.query.select_related else among


# --- Who is responsible --------------------------------------------------------------------


@staff_page
def responsible(request: HttpRequest) -> HttpResponse:
    # Newest first: read off the start-date index, a page costs the same whatever the company's size.
    queryset = Assignment.objects.with_related_fetched_after().order_by("-start_date", "-pk")
    filterset = AssignmentFilter(request.GET or None, queryset=queryset, request=request)
    table = _table(request, AssignmentTable, filterset.qs)
    day = filterset.day()
    problems = filterset.problems()
    invalid = filterset.is_bound and not filterset.form.is_valid()
    if response := _export(request, f"responsible-{day.isoformat()}", table, problems=problems, invalid=invalid):
        return response
    _paginate(request, table, problems)
    context = {"filter": filterset, "table": table, "day": day, "problems": problems}
    return render(request, "org/responsible.html", context)


# --- Projects ------------------------------------------------------------------------------


MATRIX_SORTS = {"person": ("last_name", "first_name", "pk"), "-person": ("-last_name", "-first_name", "-pk")}


def _raci_matrix(
    request: HttpRequest, in_force: QuerySet[Assignment] | list[Assignment], problems: list[str]
) -> dict[str, Any]:
    """A page of people by the roles held on the target, each cell a RACI letter: three queries, none when
    ``in_force`` is a list.

    Sorted by person (``matrix_sort=person`` or ``-person``). The rows are put together here, not in the
    template: a page is up to 50 people by every role.
    """
    sort, people = _matrix_people(request, in_force, problems)
    page = _page(request, people, "matrix_page", MATRIX_PER_PAGE, problems)
    columns, rows = _matrix_rows(in_force, page.object_list)
    letters = {
        level: f'<td class="raci raci-{level}"><abbr title="{escape(Level(level).label)}">{level}</abbr></td>'
        for level in Level.values
    }
    html = [
        f'<tr><th scope="row"><a href="{escape(employee_url(person))}">{escape(person)}</a>'
        f' <span class="code">{escape(person.employee_number)}</span></th>'
        + "".join(letters.get(level, '<td class="raci raci-none"></td>') for level in levels)
        + "</tr>"
        for person, levels in rows
    ]
    next_sort = "-person" if sort == "person" else "person"
    # Every value in ``html`` went through escape().
    return {"roles": columns, "rows": rows, "html": mark_safe("\n".join(html)), "page": page, "next_sort": next_sort}


def _matrix_people(
    request: HttpRequest, in_force: QuerySet[Assignment] | list[Assignment], problems: list[str]
) -> tuple[str, QuerySet[Employee] | list[Employee]]:
    """The matrix's sort (``matrix_sort``; an unknown one is a message) and its people in that order."""
    sort = request.GET.get("matrix_sort") or "person"
    if sort not in MATRIX_SORTS:
        problems.append(
            gettext("There is no column “%(columns)s” to sort by; showing the usual order.") % {"columns": sort}
        )
        sort = "person"
    if isinstance(in_force, list):
        people = list({a.employee_id: a.employee for a in in_force}.values())
        return sort, sort_rows(people, MATRIX_SORTS[sort])
    return sort, Employee.objects.filter(pk__in=in_force.values("employee")).order_by(*MATRIX_SORTS[sort])


def _matrix_rows(
    in_force: QuerySet[Assignment] | list[Assignment], people: list[Employee]
) -> tuple[list[Role], list[tuple[Employee, list[str]]]]:
    """Every role held in ``in_force`` (by name), and each of ``people``'s RACI letter in each: two queries (none
    for nobody, or for a list).

    The columns are the roles of everyone in force, not only of ``people``: a page of the matrix shows the same
    columns as every other page and as its export.
    """
    if not people:
        return [], []
    cells: dict[tuple[int, int], str] = {}
    if isinstance(in_force, list):
        roles = list({a.role_id: a.role for a in in_force}.values())
        on_page = {person.pk for person in people}
        held = [a for a in in_force if a.employee_id in on_page]
    else:
        roles = list(Role.objects.filter(pk__in=in_force.values("role")))
        held = in_force.filter(employee__in=[person.pk for person in people])
        held = held.select_related(None).only("employee_id", "role_id", "level").order_by()
    for assignment in held:
        cells[(assignment.employee_id, assignment.role_id)] = assignment.level
    columns = sort_rows(roles, ["name", "pk"])
    return columns, [(person, [cells.get((person.pk, role.pk), "") for role in columns]) for person in people]


def _matrix_export(
    request: HttpRequest,
    export_format: str,
    in_force: QuerySet[Assignment] | list[Assignment],
    filename: str,
    problems: list[str],
) -> HttpResponse | None:
    """The whole RACI matrix (every person, in the page's order) as CSV or XLSX; None (and a message) if too big."""
    _sort, people = _matrix_people(request, in_force, problems)
    if _too_big_to_export(people, problems):
        return None
    columns, rows = _matrix_rows(in_force, list(people))
    header = [gettext("Person"), gettext("Employee number"), *(role.name for role in columns)]
    body = ([person.full_name, person.employee_number, *levels] for person, levels in rows)
    return _export_response(export_format, f"{filename}-matrix", header, body)


@staff_page
def project_detail(request: HttpRequest, code: str) -> HttpResponse:
    project = get_object_or_404(Project.objects.select_related("department"), code=code)
    as_of_form, day = _as_of(request)
    # The tables leave the target out (it is this project): its department and project joins would cost more
    # than the rest of the query.
    everything = _with_holders(Assignment.objects.for_target(project))
    held = _held(everything, day)

    def table(rows: QuerySet | RowsInMemory, name: str) -> tables.Table:
        return _table(request, AssignmentTable, rows, name, exclude=("target",))

    past = table(_in_order(held.past, "start_date", "pk"), "past")
    future = table(_in_order(held.future, "start_date", "pk"), "future")
    problems: list[str] = []
    name = f"project-{project.code}-{day.isoformat()}"
    invalid = not as_of_form.is_valid()
    if request.GET.get("_table") == "matrix":
        export_format = _export_format(request, problems, invalid=invalid)
        if export_format and (response := _matrix_export(request, export_format, held.in_force, name, problems)):
            return response
    elif request.GET.get("_export"):
        team = table(_in_order(held.in_force, *selectors.RESPONSIBLE_ORDER), "team")
        if response := _export(
            request, name, team, past, future, problems=problems, invalid=invalid, exported_elsewhere=("matrix",)
        ):
            return response
    matrix = _raci_matrix(request, held.in_force, problems)
    # Nobody on the matrix's first page means nobody holds a role that day: no team to ask for.
    nobody = matrix["page"].number == 1 and not matrix["rows"]
    team = table(_in_order([] if nobody else held.in_force, *selectors.RESPONSIBLE_ORDER), "team")
    context = {
        "project": project,
        "day": day,
        "as_of_form": as_of_form,
        "matrix": matrix,
        "timeline": _project_timeline(project, everything, held, day),
        "team": _paginate(request, team, problems),
        "past": _paginate(request, past, problems),
        "future": _paginate(request, future, problems),
        "admin_url": _admin_url(request, project),
        "history": _history(request, project, problems),
        "problems": problems,
    }
    return render(request, "org/project.html", context)


def _project_timeline(
    project: Project, everything: QuerySet[Assignment], held: Held, day: datetime.date
) -> dict[str, Any]:
    """The project's timeline (org.timeline): every assignment when its whole history was read at once, no query;
    else, in one query, those of its Accountable and single-holder roles (the latest ``TIMELINE_ROWS``)."""
    rows = held.whole
    whole = rows is not None
    if not whole:
        keyed = everything.filter(Q(level=Level.ACCOUNTABLE) | Q(role__single_holder=True))
        rows = list(keyed.order_by("-start_date", "-pk")[:TIMELINE_ROWS])
    drawn = timeline.build(rows, day=day, today=timezone.localdate(), start=project.start_date, end=project.end_date)
    return {"drawn": drawn, "whole": whole, "limit": TIMELINE_ROWS}


def _with_holders(assignments: QuerySet[Assignment]) -> QuerySet[Assignment]:
    """``assignments`` with their employee and role joined, not their target."""
    return assignments.select_related(None).select_related("employee", "role")


@staff_page
def project_list(request: HttpRequest) -> HttpResponse:
    # The owning department fetched after the page: joined in, MariaDB's optimizer starts from the smaller
    # department table and sorts every project for one page.
    queryset = Project.objects.prefetch_related("department")
    return _filtered_list(request, ProjectFilter, ProjectTable, queryset, "projects", "org/project_list.html")


def _filtered_list(
    request: HttpRequest,
    filter_class: type[django_filters.FilterSet],
    table_class: type[tables.Table],
    queryset: QuerySet,
    export_name: str,
    template: str,
) -> HttpResponse:
    """A filterable, sortable, paginated, exportable list of ``queryset``."""
    filterset = filter_class(request.GET or None, queryset=queryset, request=request)
    table = _table(request, table_class, filterset.qs)
    problems = filterset.problems()
    invalid = filterset.is_bound and not filterset.form.is_valid()
    if response := _export(request, export_name, table, problems=problems, invalid=invalid):
        return response
    _paginate(request, table, problems)
    return render(request, template, {"filter": filterset, "table": table, "problems": problems})


# --- Departments ---------------------------------------------------------------------------


def _org_chart(
    roots: list[Department], children: dict[int | None, list[Department]], heads: dict[int, Employee]
) -> SafeString:
    """Nested ``<ul>`` of ``roots`` and everything under them, from data already in memory.

    Built with ``escape`` and plain strings rather than ``format_html``: the
    chart of a whole company has hundreds of nodes, and this is the page's cost.
    """
    inactive = f' <span class="muted">({escape(gettext("inactive"))})</span>'
    parts: list[str] = []

    def branch(departments: list[Department]) -> None:
        parts.append("<ul>")
        for department in departments:
            parts.append(
                f'<li><a href="{escape(department_url(department))}">{escape(department.name)}</a>'
                f' <span class="code">{escape(department.code)}</span>'
            )
            if not department.active:
                parts.append(inactive)
            if head := heads.get(department.pk):
                parts.append(f' <span class="head">— <a href="{escape(employee_url(head))}">{escape(head)}</a></span>')
            if below := children.get(department.pk):
                branch(below)
            parts.append("</li>")
        parts.append("</ul>")

    branch(roots)
    return mark_safe("".join(parts))  # every value above went through escape()


def _heads(department_ids: set[int], day: datetime.date) -> dict[int, Employee]:
    """The Accountable of each department on ``day``: one query."""
    heads = (
        Assignment.objects.as_of(day)
        .accountable()
        .filter(department__in=department_ids)
        .select_related("employee")
        .only("department_id", "employee__employee_number", "employee__first_name", "employee__last_name")
    )
    return {a.department_id: a.employee for a in heads}


def _tree() -> tuple[dict[int, Department], dict[int | None, list[Department]]]:
    """Every department by id, and each one's children in name order: one query, remembered until the data changes."""

    def build() -> tuple[dict[int, Department], dict[int | None, list[Department]]]:
        by_id: dict[int, Department] = {}
        children: dict[int | None, list[Department]] = {}
        for department, _depth in selectors.department_tree():
            by_id[department.pk] = department
            children.setdefault(department.parent_id, []).append(department)
        return by_id, children

    return selectors.remembered("department-tree", build)


def _chart_and_head(root: Department | None, day: datetime.date) -> tuple[SafeString, Employee | None]:
    """The org chart of ``root`` and everything under it (the whole company for None) on ``day``, and its head.

    Remembered until the data changes, per language (the labels) and URL prefix (the links): the chart of a
    large company is hundreds of nodes, the same for everyone.
    """

    def build() -> tuple[SafeString, Employee | None]:
        by_id, children = _tree()
        if root is None:
            roots, ids = children.get(None, []), set(by_id)
        else:
            child_ids = {parent: [child.pk for child in below] for parent, below in children.items()}
            roots, ids = [root], selectors.subtree_ids(root.pk, child_ids)
        heads = _heads(ids, day)
        return _org_chart(roots, children, heads) if roots else SafeString(), heads.get(root.pk) if root else None

    key = f"org-chart:{root.pk if root else ''}:{day.isoformat()}:{get_language()}:{get_script_prefix()}"
    return selectors.remembered(key, build)


@staff_page
def department_detail(request: HttpRequest, code: str) -> HttpResponse:
    by_id, children = _tree()
    department = next((d for d in by_id.values() if d.code == code), None)
    if department is None:
        raise Http404(gettext("No department has the code “%(code)s”.") % {"code": code})
    as_of_form, day = _as_of(request)
    members = _table(
        request,
        EmployeeTable,
        # On the staff that day: hired by then and not yet left (the home department is today's).
        selectors.employees_employed_on(day).filter(department=department).select_related("department"),
        "members",
        exclude=("department",),
    )
    projects = _table(
        request,
        ProjectTable,
        Project.objects.filter(department=department).select_related("department"),
        "projects",
        exclude=("department",),
    )
    problems: list[str] = []
    name, invalid = f"department-{department.code}-{day.isoformat()}", not as_of_form.is_valid()
    if response := _export(request, name, members, projects, problems=problems, invalid=invalid):
        return response
    breadcrumb, parent_id, seen = [], department.parent_id, set()
    while parent_id is not None and parent_id not in seen:  # `seen` only guards against a cycle in bad data
        seen.add(parent_id)
        breadcrumb.insert(0, by_id[parent_id])
        parent_id = by_id[parent_id].parent_id
    org_chart, head = _chart_and_head(department, day)
    context = {
        "department": department,
        "day": day,
        "as_of_form": as_of_form,
        "breadcrumb": breadcrumb,
        "children": children.get(department.pk, []),
        "head": head,
        "org_chart": org_chart,
        "members": _paginate(request, members, problems),
        "projects": _paginate(request, projects, problems),
        "admin_url": _admin_url(request, department),
        "history": _history(request, department, problems),
        "problems": problems,
    }
    return render(request, "org/department.html", context)


@staff_page
def department_list(request: HttpRequest) -> HttpResponse:
    """The whole organisation as one org chart."""
    by_id, _children = _tree()
    as_of_form, day = _as_of(request)
    org_chart, _head = _chart_and_head(None, day)
    context = {"day": day, "as_of_form": as_of_form, "org_chart": org_chart, "count": len(by_id)}
    return render(request, "org/department_list.html", context)


# --- Employees -----------------------------------------------------------------------------


@staff_page
def employee_detail(request: HttpRequest, number: str) -> HttpResponse:
    as_of_form, day = _as_of(request)
    employee = get_object_or_404(Employee.objects.select_related("department"), employee_number=number)
    # Each row comes with ``employee`` (its related manager): the tables need not join it.
    held = _held(employee.assignments.with_targets(), day)

    def table(rows: QuerySet | RowsInMemory, name: str) -> tables.Table:
        return _table(request, AssignmentTable, rows, name, exclude=("employee",))

    current = table(_in_order(held.in_force, *selectors.HOLDINGS_ORDER), "current")
    past = table(_in_order(held.past, "-start_date", "pk"), "past")
    future = table(_in_order(held.future, "start_date", "pk"), "future")
    problems: list[str] = []
    name = f"employee-{employee.employee_number}-{day.isoformat()}"
    if response := _export(request, name, current, past, future, problems=problems, invalid=not as_of_form.is_valid()):
        return response
    context = {
        "employee": employee,
        "day": day,
        "as_of_form": as_of_form,
        "current": _paginate(request, current, problems),
        "past": _paginate(request, past, problems),
        "future": _paginate(request, future, problems),
        "workload": selectors.workload_of(held.in_force),
        "chain": selectors.manager_chain(employee),
        "admin_url": _admin_url(request, employee),
        "history": _history(request, employee, problems),
        "problems": problems,
    }
    return render(request, "org/employee.html", context)


@staff_page
def employee_list(request: HttpRequest) -> HttpResponse:
    queryset = Employee.objects.select_related("department")
    return _filtered_list(request, EmployeeFilter, EmployeeTable, queryset, "employees", "org/employee_list.html")

"""The staff pages' tables (django-tables2): sortable, paginated, exportable.

Dates render in the active language's short format; exports get the date
itself (ISO in CSV, a date cell in XLSX) and links become plain text.
"""

from __future__ import annotations

import copy
import datetime
import functools
import html
import unicodedata
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

import django_tables2 as tables
import django_tables2.utils
from django.db import models
from django.forms.utils import flatatt
from django.http import HttpRequest
from django.urls import get_script_prefix, reverse
from django.utils.formats import date_format
from django.utils.html import escape, format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django_tables2.data import TableListData
from django_tables2.templatetags.django_tables2 import table_page_range
from django_tables2.utils import OrderBy

from org.models import Assignment, Department, Employee, Level, Project, ProjectStatus

_inspect_signature = django_tables2.utils.signature


@functools.lru_cache(maxsize=1024)
def _signature_of(function: Callable, bound: bool) -> tuple[tuple[str, ...], str | None]:
    args, catch_all = _inspect_signature(function)
    return (args[1:], catch_all) if bound else (args, catch_all)


def _cached_signature(fn: Callable) -> tuple[tuple[str, ...], str | None]:
    """django-tables2's ``utils.signature``, remembered per function.

    django-tables2 asks ``inspect.signature`` which arguments a column's ``render``
    and ``linkify`` take for every cell it renders — a quarter of a table's
    rendering time here. The answer depends only on the function.
    """
    function = getattr(fn, "__func__", fn)
    return _signature_of(function, function is not fn)


django_tables2.utils.signature = _cached_signature


class DateColumn(tables.Column):
    """The active language's short date on the page, the date itself in exports.

    Not ``tables.DateColumn``: that is a TemplateColumn, which compiles a template for every cell.
    """

    def render(self, value: datetime.date) -> str:
        return date_format(value, "SHORT_DATE_FORMAT")

    def value(self, value, **kwargs):
        return value


@functools.lru_cache(maxsize=8192)
def _page_url(name: str, key: str, script_prefix: str) -> str:
    """``reverse`` remembered: a table or org chart links hundreds of rows, and URLs never change while running."""
    return reverse(name, args=[key])


#: The active language and script prefix while ``BaseTable.rows_html`` renders, read once for all its cells:
#: Django keeps them in an asgiref ``Local``, some 5 µs a read, and a row reads them half a dozen times.
_rendering: ContextVar[tuple[str, str] | None] = ContextVar("org_table_rendering", default=None)


def _language() -> str:
    return rendering[0] if (rendering := _rendering.get()) else get_language()


def _script_prefix() -> str:
    return rendering[1] if (rendering := _rendering.get()) else get_script_prefix()


def employee_url(record: Employee) -> str:
    return _page_url("org:employee", record.employee_number, _script_prefix())


def project_url(record: Project) -> str:
    return _page_url("org:project", record.code, _script_prefix())


def department_url(record: Department) -> str:
    return _page_url("org:department", record.code, _script_prefix())


class TargetColumn(tables.Column):
    """The department or project an assignment is on, linked to its page."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("verbose_name", _("On"))
        kwargs.setdefault("accessor", "pk")
        kwargs.setdefault("order_by", ("department__name", "project__code"))
        super().__init__(**kwargs)

    def render(self, record: Assignment) -> str:
        if record.project_id:
            return format_html('<a href="{}">{}</a>', project_url(record.project), record.project)
        return format_html('<a href="{}">{}</a>', department_url(record.department), record.department)

    def value(self, record: Assignment, **kwargs) -> str:
        return str(record.target)


DASH = "—"  # what django-tables2 shows for an empty value


# --- Rows read whole ------------------------------------------------------------------------------------------


class RowsInMemory(TableListData):
    """A table's rows already read (``org.views``: a person's or project's whole history), sorted in Python the
    way the database sorts them (``sort_rows``).

    django-tables2 would sort a list by comparing rows in pairs through its accessors, a hundred times slower.
    """

    def __init__(self, rows: list, *order: str) -> None:
        super().__init__(sort_rows(list(rows), order))

    def order_by(self, aliases) -> None:
        paths: list[str] = []
        for alias in aliases:  # as TableListData does: each column's own order_by, turned round when descending
            column = self.table.columns[OrderBy(alias).bare]
            paths += column.order_by.opposite if alias[0] != column.order_by_alias[0] else column.order_by
        sort_rows(self.data, paths)


def sort_rows(rows: list, order: Iterable[str]) -> list:
    """Sort ``rows`` in place by ``order`` (ORM paths such as ``-employee__last_name``) as MariaDB would: empty
    values first (last when descending), text without regard to case or accents; returns ``rows``."""
    for path in reversed(list(order)):  # Python's sort is stable: the least significant key first
        rows.sort(key=_sort_key(path.lstrip("-")), reverse=path.startswith("-"))
    return rows


def _sort_key(path: str) -> Callable[[Any], tuple]:
    names = path.split("__")

    def key(row: Any) -> tuple:
        value = row
        for name in names:
            value = getattr(value, name, None)
            if value is None:
                return (0,)
        return (1, collation_key(value) if isinstance(value, str) else value)

    return key


#: Letters MariaDB's utf8mb4_unicode_ci reads as two (Œuvre is Oeuvre) that NFKD leaves whole. Not Æ: to it a letter
#: of its own (Æsir and AEsir are two names there, and the unique index holds both).
LIGATURES = str.maketrans({"Œ": "OE", "œ": "oe"})
#: Marks that collation ignores altogether but NFKD keeps and ``unicodedata.combining`` does not flag: the variation
#: selectors (an emoji's U+FE0F) and the combining grapheme joiner. "ENG" followed by one is ENG to MariaDB.
IGNORED = dict.fromkeys([0x034F, *range(0x180B, 0x180E), *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)])


def collation_key(text: str) -> str:
    """``text`` as a case- and accent-insensitive collation compares it: "Álvarez" sorts with "alvarez"."""
    text = unicodedata.normalize("NFKD", text.translate(LIGATURES).translate(IGNORED))
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def fold(text: str) -> str:
    """``collation_key``, but by the cheaper ``lower()`` for ASCII (nearly every code, number and name), which
    folds it the same: how imports match keys, and SQLite searches text, as MariaDB's collation compares them."""
    return text.lower() if text.isascii() else collation_key(text)


def _escape(value: object) -> str:
    """Django's ``escape`` (the same ``html.escape``) without its lazy-string wrapper, for a cell."""
    return html.escape(str(value))


def _text(value: object) -> str:
    return DASH if value in (None, "") else _escape(value)


def _link(url: str | None, text: object) -> str:
    return f'<a href="{_escape(url)}">{_escape(text)}</a>' if url and text not in (None, "") else _text(text)


def _date(value: datetime.date | None) -> str:
    return DASH if value is None else _short_date(value, _language())


def _choice(choices: type[models.TextChoices], value: str) -> str:
    """``get_FOO_display()`` for a cell: Django's hashes and translates every choice on each call."""
    return _choice_labels(choices, _language()).get(value) or _text(value)


@functools.lru_cache(maxsize=64)
def _choice_labels(choices: type[models.TextChoices], language: str) -> dict[str, str]:
    return {value: escape(label) for value, label in choices.choices}


@functools.lru_cache(maxsize=8192)
def _short_date(value: datetime.date, language: str) -> str:
    """A date in ``language``'s short format, remembered: formatting one takes a dozen translation lookups."""
    return escape(date_format(value, "SHORT_DATE_FORMAT"))


class _ColumnsCopiedShallow(dict):
    """A table class's columns, which each table copies column by column rather than deep.

    django-tables2 deep-copies every column (their labels, links, attributes) for each table it makes, half
    the cost of making one, so that ``columns.hide()``/``show()`` on one table leave the class alone; those
    set an attribute of the column itself, which a shallow copy keeps apart too. Nothing here changes a
    column's nested values.
    """

    def __deepcopy__(self, memo: dict) -> dict:
        return {name: copy.copy(column) for name, column in self.items()}


#: How many tables' header cells are kept (``BaseTable._header_cells``): a few per page, language and sort.
HEADER_CELLS_KEPT = 512
_HEADER_CELLS: dict[tuple, tuple[tuple[str, str, str | None], ...]] = {}


class BaseTable(tables.Table):
    """django-tables2 for the columns, sorting and exports; the page's HTML comes from ``html`` and ``cells``.

    django-tables2 renders each cell through a dozen calls (accessor, choices,
    ``render``, ``linkify``) and the cell template, some 40 µs a cell, and the
    header and pager through its template: most of a page's time. Each table
    here says in ``cells`` what its columns show, as escaped HTML, and ``html``
    puts the table together in Python; ``tests/test_pages_tables.py`` checks
    that both are exactly what django-tables2 itself renders.
    """

    #: The request the table is shown for (its sort and page links keep the rest of its query string).
    request: HttpRequest
    #: Which table of the page an export link asks for (``_table``); None on a page with one table.
    export_name: str | None = None

    class Meta:
        attrs = {"class": "data"}
        empty_text = _("Nothing to show.")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.base_columns = _ColumnsCopiedShallow(cls.base_columns)

    def cells(self, record: Any) -> dict[str, str]:
        """The escaped HTML of each column in ``shown`` for ``record``."""
        raise NotImplementedError

    @functools.cached_property
    def shown(self) -> frozenset[str]:
        """The names of the columns on the page: visible, not left out."""
        return frozenset(column.name for column in self.columns)

    def html(self) -> SafeString:
        """The export links, then what ``{% render_table %}`` shows with django-tables2's own template."""
        export = gettext("Export")  # outside the f-string, where makemessages would not find it
        tools = (
            f'<div class="table-tools">{escape(export)}:'
            f' <a href="{_query(self.request, (), _export="csv", _table=self.export_name)}">CSV</a>'
            f' <a href="{_query(self.request, (), _export="xlsx", _table=self.export_name)}">XLSX</a></div>'
        )
        # Every value below went through escape(), format_html_join (as_html) or cells().
        return mark_safe(
            f'{tools}\n<div class="table-container">\n<table {self.attrs.as_html()}>\n'
            f"<thead><tr>{self._header_html()}</tr></thead>\n<tbody>\n{self.rows_html()}\n</tbody>\n</table>\n"
            f"{self._pager_html()}</div>"
        )

    def _header_html(self) -> str:
        parts = []
        for attrs, header, next_sort in self._header_cells():
            if next_sort is not None:
                header = f'<a href="{_query(self.request, (self.prefixed_order_by_field, next_sort))}">{header}</a>'
            parts.append(f"<th {attrs}>{header}</th>")
        return "".join(parts)

    def _header_cells(self) -> tuple[tuple[str, str, str | None], ...]:
        """Each column's ``<th>`` attributes, escaped header and the sort its link asks for (None: not sortable).

        The same for every table of a class shown in one language, sort and set of columns: made once for each
        (django-tables2 works them out through some 20 calls and a translation per column).
        """
        key = (type(self), get_language(), tuple(self.order_by or ()), tuple(self.sequence), self.shown)
        if (cells := _HEADER_CELLS.get(key)) is None:
            cells = tuple(
                (
                    column.attrs["th"].as_html(),
                    escape(column.header),
                    column.order_by_alias.next if column.orderable else None,
                )
                for column in self.columns
            )
            if len(_HEADER_CELLS) >= HEADER_CELLS_KEPT:
                _HEADER_CELLS.clear()
            _HEADER_CELLS[key] = cells
        return cells

    def _pager_html(self) -> str:
        page = getattr(self, "page", None)
        if not page or self.paginator.num_pages <= 1:
            return ""
        field = self.prefixed_page_field
        items = []
        if page.has_previous():
            link = _query(self.request, (field, page.previous_page_number()))
            previous = gettext("previous")  # outside the f-string, where makemessages would not find it
            items.append(f'<li class="previous"><a href="{link}">{escape(previous)}</a></li>')
        if page.has_previous() or page.has_next():
            for number in table_page_range(page, self.paginator):
                active = ' class="active"' if number == page.number else ""
                link = "#" if number == "..." else _query(self.request, (field, number))
                items.append(f'<li{active}><a href="{link}">{number}</a></li>')
        if page.has_next():
            link = _query(self.request, (field, page.next_page_number()))
            following = gettext("next")
            items.append(f'<li class="next"><a href="{link}">{escape(following)}</a></li>')
        return '<ul class="pagination">' + "".join(items) + "</ul>\n"

    def rows_html(self) -> SafeString:
        """The ``<tr>`` of every row on the page: the visible columns, in order, with their ``td`` attributes."""
        columns = [(column.name, flatatt(column.column.attrs.get("td", {}))) for column in self.columns]
        token = _rendering.set((get_language(), get_script_prefix()))
        try:
            rows = [
                "<tr>" + "".join(f"<td{attrs}>{cells[name]}</td>" for name, attrs in columns) + "</tr>"
                for cells in (self.cells(row.record) for row in self.paginated_rows)
            ]
        finally:
            _rendering.reset(token)
        if not rows:
            rows = [f'<tr><td colspan="{len(columns)}">{escape(self.empty_text)}</td></tr>']
        return mark_safe("\n".join(rows))  # every value went through _escape() in cells()


def _query(request: HttpRequest, replace: tuple[str, object] | tuple[()], **changes: str | None) -> str:
    """The request's query string with one parameter replaced (``replace``) or several set or, when None,
    removed (``changes``), escaped.

    ``replace`` follows django-tables2's ``querystring_replace`` (its header and pager links), ``changes``
    Django's ``querystring`` tag (the export links), so each link reads as it did from their templates.
    """
    if replace:
        key, value = replace
        return escape("?" + urlencode({**dict(request.GET), key: value}, doseq=True))
    params = request.GET.copy()
    for key, value in changes.items():
        if value is not None:
            params[key] = value
        elif key in params:
            del params[key]
    return escape(f"?{params.urlencode()}")


class AssignmentTable(BaseTable):
    employee = tables.Column(
        verbose_name=_("Employee"),
        linkify=lambda record: employee_url(record.employee),
        order_by=("employee__last_name", "employee__first_name"),
    )
    employee_number = tables.Column(
        verbose_name=_("Employee number"), accessor="employee__employee_number", visible=False
    )
    role = tables.Column(verbose_name=_("Role"), order_by=("role__name",))
    level = tables.Column(verbose_name=_("RACI level"))
    target = TargetColumn()
    start_date = DateColumn(verbose_name=_("From"))
    end_date = DateColumn(verbose_name=_("To"))
    allocation = tables.Column(verbose_name=_("Allocation %"), attrs={"td": {"class": "num"}})

    class Meta(BaseTable.Meta):
        model = Assignment
        fields = ()
        sequence = ("employee", "employee_number", "role", "level", "target", "start_date", "end_date", "allocation")

    def cells(self, record: Assignment) -> dict[str, str]:
        # Only the columns shown: a page that leaves out the employee or the target does not fetch it.
        shown = self.shown
        cells = {
            "role": _text(record.role),
            "level": _choice(Level, record.level),
            "start_date": _date(record.start_date),
            "end_date": _date(record.end_date),
            "allocation": _text(record.allocation),
        }
        if "employee" in shown:
            cells["employee"] = _link(employee_url(record.employee), record.employee)
        if "employee_number" in shown:
            cells["employee_number"] = _text(record.employee.employee_number)
        if "target" in shown:
            target = record.target
            cells["target"] = _link(project_url(target) if record.project_id else department_url(target), target)
        return cells


class EmployeeTable(BaseTable):
    employee_number = tables.Column(verbose_name=_("Employee number"))
    name = tables.Column(
        verbose_name=_("Name"), accessor="full_name", linkify=employee_url, order_by=("last_name", "first_name")
    )
    job_title = tables.Column(verbose_name=_("Job title"))
    work_email = tables.EmailColumn(verbose_name=_("Work email"))
    department = tables.Column(verbose_name=_("Home department"), linkify=lambda record: _department_of(record))
    leave_date = DateColumn(verbose_name=_("Leave date"))

    class Meta(BaseTable.Meta):
        model = Employee
        fields = ()
        sequence = ("employee_number", "name", "job_title", "work_email", "department", "leave_date")

    def cells(self, record: Employee) -> dict[str, str]:
        email = record.work_email
        return {
            "employee_number": _text(record.employee_number),
            "name": _link(employee_url(record), record.full_name),
            "job_title": _text(record.job_title),
            "work_email": f'<a href="mailto:{_escape(email)}">{_escape(email)}</a>' if email else DASH,
            "department": _link(_department_of(record), record.department),
            "leave_date": _date(record.leave_date),
        }


def _department_of(record: Employee) -> str | None:
    return department_url(record.department) if record.department_id else None


class WorkloadTable(EmployeeTable):
    total_allocation = tables.Column(verbose_name=_("Allocation %"), attrs={"td": {"class": "num"}})
    assignment_count = tables.Column(verbose_name=_("Assignments"), attrs={"td": {"class": "num"}})

    class Meta(EmployeeTable.Meta):
        exclude = ("leave_date",)

    def cells(self, record: Employee) -> dict[str, str]:
        return {
            **super().cells(record),
            "total_allocation": _text(record.total_allocation),
            "assignment_count": _text(record.assignment_count),
        }


class ProjectTable(BaseTable):
    code = tables.Column(verbose_name=_("Code"), linkify=project_url)
    name = tables.Column(verbose_name=_("Name"))
    department = tables.Column(
        verbose_name=_("Owning department"), linkify=lambda record: department_url(record.department)
    )
    status = tables.Column(verbose_name=_("Status"))
    start_date = DateColumn(verbose_name=_("Start date"))
    end_date = DateColumn(verbose_name=_("End date"))

    class Meta(BaseTable.Meta):
        model = Project
        fields = ()
        sequence = ("code", "name", "department", "status", "start_date", "end_date")

    def cells(self, record: Project) -> dict[str, str]:
        return {
            "code": _link(project_url(record), record.code),
            "name": _text(record.name),
            "department": _link(department_url(record.department), record.department),
            "status": _choice(ProjectStatus, record.status),
            "start_date": _date(record.start_date),
            "end_date": _date(record.end_date),
        }


class DepartmentTable(BaseTable):
    code = tables.Column(verbose_name=_("Code"), linkify=department_url)
    name = tables.Column(verbose_name=_("Name"))
    parent = tables.Column(
        verbose_name=_("Parent department"),
        linkify=lambda record: department_url(record.parent) if record.parent_id else None,
        order_by=("parent__name",),
    )

    class Meta(BaseTable.Meta):
        model = Department
        fields = ()
        sequence = ("code", "name", "parent")

    def cells(self, record: Department) -> dict[str, str]:
        parent = record.parent if record.parent_id else None
        return {
            "code": _link(department_url(record), record.code),
            "name": _text(record.name),
            "parent": _link(department_url(parent) if parent else None, parent),
        }

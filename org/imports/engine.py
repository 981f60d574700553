"""Imports: a file of one kind of row, validated whole, then written all at once or not at all.

Phase one reads every row, parses every cell and checks every rule — types, duplicates in the file and against the
database, references, cycles, the assignment rules of ``org.services`` — collecting every problem with its row and
column. Phase two runs only when there is none: one transaction of bulk inserts and updates, each row with its
simple_history record. Rows are matched to stored ones by natural key (department code, employee number, project
code, role name; employee + role + target + start date for assignments), so importing the same file twice writes
nothing the second time.

Only the columns a file has are written: an optional column left out of the file leaves that field as it is.
"""

from __future__ import annotations

import bisect
import datetime
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, IntegrityError, connections, models, router, transaction
from django.db.models import Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, ngettext
from simple_history.utils import bulk_update_with_history

from org import selectors
from org.imports import fields as f
from org.imports.bulk import BATCH_SIZE, BatchWriter
from org.imports.reading import MAX_FIELD, FileProblem, Table, column_label, normalise_header, read_table
from org.models import (
    LATEST_DATE,
    AppliesTo,
    Assignment,
    Department,
    Employee,
    Level,
    Project,
    ProjectStatus,
    Role,
)
from org.services import (
    REASON_LENGTH,
    assignments_batch_violations,
    assignments_named,
    lock_employees,
    lock_roles,
    lock_targets,
    role_problems,
)
from org.tables import fold

KINDS = ("departments", "employees", "projects", "roles", "assignments", "history")
NOTES_NAMED = 5  # notes of one kind named one by one; the rest counted
FORMATS = ("projman", "orangehrm", "jobhistory")
MEMBER_ROLE = "Team Member"  # the role job-history rows become on the home department
ROLE_NAME = f.text(100, required=True, name=True)
ONE_DAY = datetime.timedelta(days=1)

Progress = Callable[[str, int, int], None]
BLOCK_ROWS = 2000  # rows parsed together, a column at a time
LINK_LEVELS = 16  # levels of a tree read upwards one query at a time before it is read whole
BAD = object()  # a cell that could not be read: its row keeps no value for it


@dataclass(frozen=True)
class Problem:
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        parts = (f"row {self.row}" if self.row else "", f"column {self.column}" if self.column else "")
        where = ", ".join(part for part in parts if part)
        return f"{where}: {self.message}" if where else self.message


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class Report:
    kind: str
    format: str | None = None  # None until the header is read and its format known
    filename: str = ""
    rows: int = 0
    dry_run: bool = False
    written: bool = False
    counts: dict[str, Counts] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    plan: str = ""  # ``fingerprint`` of the writes planned, when asked for
    stale: bool = False  # planned writes not those expected: nothing written, the counts are what it would do now

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def changes(self) -> int:
        return sum(c.created + c.updated for c in self.counts.values())

    def summary(self) -> list[str]:
        if not self.ok:
            return [gettext("%(count)d problem(s); nothing was written.") % {"count": len(self.problems)}]
        if self.dry_run:
            counted = gettext(
                "%(name)s: %(created)d would be created, %(updated)d would be updated, %(unchanged)d unchanged"
            )
        else:
            counted = gettext("%(name)s: %(created)d created, %(updated)d updated, %(unchanged)d unchanged")
        lines = [
            counted % {"name": name, "created": c.created, "updated": c.updated, "unchanged": c.unchanged}
            for name, c in self.counts.items()
        ]
        if self.dry_run:
            lines.append(gettext("Dry run: nothing was written."))
        elif not self.changes:
            lines.append(gettext("Nothing to change: the database already matches the file."))
        return lines


# --- Formats: which header names fill which field ------------------------------------------------------------

ORANGEHRM_IGNORED = (
    "middle_name",
    "other_id",
    "driver's_license_no",
    "license_expiry_date",
    "gender",
    "marital_status",
    "nationality",
    "date_of_birth",
    "address_street_1",
    "address_street_2",
    "city",
    "state/province",
    "zip/postal_code",
    "country",
    "home_telephone",
    "mobile",
    "work_telephone",
    "other_email",
)

COLUMNS: dict[tuple[str, str], list[f.Column]] = {
    ("departments", "projman"): [
        f.Column("code", f.key(20), required=True),
        f.Column("name", f.text(200, required=True), required=True),
        f.Column("parent", f.text(20)),
        f.Column("active", f.boolean(default=True)),
    ],
    ("employees", "projman"): [
        f.Column("employee_number", f.key(30), required=True),
        f.Column("first_name", f.text(100, required=True), required=True),
        f.Column("last_name", f.text(100, required=True), required=True),
        f.Column("work_email", f.email, required=True),
        f.Column("job_title", f.text(200)),
        f.Column("department", f.text(20)),
        f.Column("manager", f.text(30)),
        f.Column("hire_date", f.date),
        f.Column("leave_date", f.end_date),
    ],
    ("employees", "orangehrm"): [
        f.Column("employee_number", f.key(30), required=True, headers=("employee_id",), shown="employee_id"),
        f.Column("first_name", f.text(100, required=True), required=True),
        f.Column("last_name", f.text(100, required=True), required=True),
        f.Column("work_email", f.email, required=True),
    ],
    ("projects", "projman"): [
        f.Column("code", f.key(20), required=True),
        f.Column("name", f.text(200, required=True), required=True),
        f.Column("description", f.long_text),
        f.Column("department", f.text(20, required=True), required=True),
        f.Column("status", f.choice(ProjectStatus, default=ProjectStatus.PROPOSED)),
        f.Column("start_date", f.date),
        f.Column("end_date", f.end_date),
    ],
    ("roles", "projman"): [
        f.Column("name", ROLE_NAME, required=True),
        f.Column("description", f.long_text),
        f.Column("applies_to", f.choice(AppliesTo, default=AppliesTo.BOTH)),
        f.Column("default_level", f.choice(Level, default=Level.RESPONSIBLE)),
        f.Column("single_holder", f.boolean(default=False)),
    ],
    ("assignments", "projman"): [
        f.Column("employee", f.text(30, required=True), required=True, headers=("employee_number",)),
        f.Column("role", f.text(100, required=True), required=True),
        f.Column("department", f.text(20)),
        f.Column("project", f.text(20)),
        f.Column("level", f.choice(Level, default="")),
        f.Column("start_date", f.required_date, required=True),
        f.Column("end_date", f.end_date),
        f.Column("allocation", f.percentage),
        f.Column("note", f.long_text),
    ],
    ("history", "projman"): [
        f.Column("employee_number", f.text(30, required=True), required=True),
        f.Column("effective_date", f.required_date, required=True),
        f.Column("department", f.text(20, required=True), required=True),
        f.Column("job_title", f.text(200)),
        f.Column("manager", f.text(30)),
    ],
}
# English names as HR systems export them, and Spanish ones (accents and case aside: normalise_header).
COLUMNS[("history", "jobhistory")] = [
    f.Column(
        "employee_number",
        f.text(30, required=True),
        required=True,
        headers=(
            *("employee_id", "employee_no", "emp_no", "emp_id", "person_number", "worker_id", "employee"),
            *("no_empleado", "n.o_empleado", "numero_empleado", "numero_de_empleado", "id_empleado", "empleado"),
        ),
        shown="Employee ID",
    ),
    f.Column(
        "effective_date",
        f.required_date,
        required=True,
        headers=(
            *("effective_from", "start_date", "effective_start_date", "date", "change_date"),
            *("fecha_efectiva", "fecha_de_efecto", "fecha_efecto", "fecha_de_inicio", "fecha"),
        ),
        shown="Effective Date",
    ),
    f.Column(
        "department",
        f.text(20, required=True),
        required=True,
        headers=(
            *("department_code", "department_id", "dept", "dept_code", "org_unit", "cost_center"),
            *("departamento", "codigo_departamento", "codigo_de_departamento", "depto", "unidad"),
        ),
        shown="Department",
    ),
    f.Column(
        "job_title",
        f.text(200),
        headers=(
            *("position", "position_title", "business_title", "title", "job"),
            *("puesto", "cargo", "titulo", "titulo_del_puesto"),
        ),
        shown="Job Title",
    ),
    f.Column(
        "manager",
        f.text(30),
        headers=(
            *("manager_id", "manager_number", "manager_employee_id", "supervisor_id", "supervisor", "reports_to"),
            *("responsable", "id_responsable", "no_responsable", "jefe", "id_jefe"),
        ),
        shown="Manager ID",
    ),
]
# Columns a job history export carries beside the change itself, which ProjMan has no field for.
JOBHISTORY_IGNORED = (
    *("employee_name", "name", "full_name", "first_name", "last_name", "action", "action_reason", "reason"),
    *("event", "change_reason", "employment_status", "status", "location", "grade"),
    *("nombre", "nombre_completo", "apellidos", "accion", "motivo", "estado", "ubicacion", "categoria"),
)
IGNORED = {("employees", "orangehrm"): ORANGEHRM_IGNORED, ("history", "jobhistory"): JOBHISTORY_IGNORED}


def formats_for(kind: str) -> list[str]:
    return [fmt for k, fmt in COLUMNS if k == kind]


def recognise_format(kind: str, header: Iterable[str]) -> str:
    """The format whose columns the header names: OrangeHRM's template has ``employee_id`` (and its odd columns,
    unless trimmed to those ProjMan reads);
    a job history that does not use ProjMan's own names is read as the generic HR export."""
    names = {normalise_header(h) for h in header}
    if (
        kind == "employees"
        and "employee_id" in names
        and (names & set(ORANGEHRM_IGNORED) or "employee_number" not in names)
    ):
        return "orangehrm"
    if kind == "history" and not {c.field for c in COLUMNS[("history", "projman")]} >= (names - {""}):
        return "jobhistory"
    return "projman"


# --- Phase one, common part: header and cells ----------------------------------------------------------------


@dataclass(slots=True)
class Row:
    number: int
    values: dict[str, Any]


def count_rows(table: Table, report: Report) -> int:
    """The data rows of a file that cannot be read as rows of its kind, counted; a CSV that cannot be read to its
    end is a problem of its own."""
    count = 0
    try:
        for _ in table.rows:
            count += 1
    except FileProblem as exc:
        report.problems.append(Problem(exc.row, exc.column, exc.message))
    return count


class Sheet:
    """The file's rows parsed into values, with the label of each field's column for error messages."""

    def __init__(
        self,
        table: Table,
        columns: list[f.Column],
        ignored: Sequence[str],
        report: Report,
        progress: Progress | None = None,
        elsewhere: Mapping[str, str] | None = None,  # the header names of the kind's other formats: to say which
    ) -> None:
        self.report = report
        self.labels: dict[str, str] = {}
        self.present: set[str] = set()
        self.rows: list[Row] = []
        self.count = 0  # data rows read
        self.partial: list[Row] = []  # rows with a bad cell: their other cells are still checked against the database
        self.unreadable = table.unreadable  # a workbook's cells that hold no value to read
        self.no_ends: dict[str, int] = {}  # end dates written as HR systems write "no end" (9999-12-31), by field
        by_name = {name: column for column in columns for name in column.names}
        header = [h.replace("\ufeff", "").strip() for h in table.header]
        index_of: dict[str, int] = {}
        unnamed: list[int] = []  # columns without a header: refused once a row has a value there
        for i, raw in enumerate(header):
            name = normalise_header(raw)
            if not name:
                unnamed.append(i)
                continue
            column = by_name.get(name)
            if column is None:
                if name not in ignored:
                    message = gettext("Unknown column %(name)s; the columns are: %(columns)s.") % {
                        "name": repr(raw),
                        "columns": ", ".join(c.label for c in columns),
                    }
                    if other := (elsewhere or {}).get(name):
                        message += " " + gettext(
                            "%(name)s is a column of the %(format)s format: choose it (--format %(format)s, or"
                            " Format in the admin)."
                        ) % {"name": repr(raw), "format": other}
                    self.problem(table.header_row, column_label(i, header), message)
                continue
            if column.field in index_of:
                first = column_label(index_of[column.field], header)
                self.problem(
                    table.header_row,
                    column_label(i, header),
                    gettext("Column %(name)s appears twice (first in %(first)s).")
                    % {"name": repr(column.field), "first": first},
                )
                continue
            index_of[column.field] = i
            self.labels[column.field] = column_label(i, header)
        for column in columns:
            if column.required and column.field not in index_of:
                names = gettext(" or ").join(repr(n) for n in list(dict.fromkeys([column.label, *column.names]))[:3])
                message = gettext("Missing column %(names)s: it is required.") % {"names": names}
                self.problem(table.header_row, repr(column.field), message)
        if table.encoding and not index_of and not all(h.isascii() for h in header):
            # No column found, and letters beyond ASCII in the header: most likely text read in the wrong encoding.
            message = gettext(
                "No name in the header is a column ProjMan knows, and it holds letters beyond ASCII: if the file is"
                " in another encoding than %(encoding)s, choose it (--encoding, or Encoding in the admin), or leave"
                " it to be detected."
            )
            self.problem(table.header_row, None, message % {"encoding": table.encoding})
        if ignored and (skipped := [h for h in header if normalise_header(h) in ignored]):
            note = gettext("Ignored columns ProjMan has no field for: %(columns)s.") % {"columns": ", ".join(skipped)}
            report.notes.append(note)
        if report.problems:  # the rows cannot be read by this header: counted, and checked for what spoils the file
            self.count = count_rows(table, report)
            return
        self.present = set(index_of)
        wanted = [(column, index_of[column.field]) for column in columns if column.field in index_of]
        total = table.estimated_rows
        block: list[tuple[int, list[str]]] = []
        try:
            for number, cells in table.rows:
                self.count += 1
                block.append((number, cells))
                if len(block) == BLOCK_ROWS:
                    self.parse(block, header, wanted, unnamed)
                    block = []
                    if progress:
                        progress("checking", min(self.count, total), total)
        except FileProblem as exc:
            self.parse(block, header, wanted, unnamed)
            self.problem(exc.row, exc.column, exc.message)
            return
        self.parse(block, header, wanted, unnamed)
        if progress:
            progress("checking", total, total)
        for name, count in self.no_ends.items():
            note = ngettext(
                "Column %(column)s: %(count)d row holds a 31 December after %(latest)d (as 9999-12-31), which HR"
                " systems write for no end: read as none.",
                "Column %(column)s: %(count)d rows hold a 31 December after %(latest)d (as 9999-12-31), which HR"
                " systems write for no end: read as none.",
                count,
            )
            report.notes.append(note % {"count": count, "column": self.labels[name], "latest": LATEST_DATE.year})
        if not self.count:
            self.problem(2, None, gettext("The file has a header but no data rows."))

    def parse(
        self,
        block: list[tuple[int, list[str]]],
        header: list[str],
        wanted: list[tuple[f.Column, int]],
        unnamed: list[int],
    ) -> None:
        """Parse a block of rows a column at a time: a column whose every cell is plainly fine is read in one go
        (``fields.parse_column``), any other cell by cell, each bad cell a problem and its row partial."""
        if not block:
            return
        width = len(header)
        bad: set[int] = set()  # positions in the block of rows with a bad cell
        if unnamed or any(len(cells) > width for _, cells in block):
            bad.update(k for k, (row, cells) in enumerate(block) if self.stray_values(row, cells, header, unnamed))
        rows = [cells if len(cells) == width else (cells + [""] * width)[:width] for _, cells in block]
        by_position = list(zip(*rows, strict=True))
        names, parsed = [], []
        for column, i in wanted:
            cells = by_position[i]
            # A workbook's cell holding no value to read (an error, a formula never calculated) is told as such.
            unreadable: dict[int, str] = {}
            if self.unreadable:
                unreadable = {k: m for k, (n, _) in enumerate(block) if (m := self.unreadable.get((n, i)))}
            fine = not unreadable and max(map(len, cells)) <= MAX_FIELD
            values = f.parse_column(column.parse, cells) if fine else None
            if values is None:
                values = [
                    self.parse_cell(column, cell, number, bad, k, unreadable.get(k))
                    for k, ((number, _), cell) in enumerate(zip(block, cells, strict=True))
                ]
            else:  # one object for each repeated value (a department code, a manager, a date): a big file's rows
                seen: dict[Any, Any] = {}  # are all in memory until written, and most columns repeat a lot
                values = list(map(seen.setdefault, values, values))
            if column.parse is f.end_date:
                no_ends = sum(1 for v, c in zip(values, cells, strict=True) if v is None and c.strip())
                if no_ends:
                    self.no_ends[column.field] = self.no_ends.get(column.field, 0) + no_ends
            names.append(column.field)
            parsed.append(values)
        numbers = [number for number, _ in block]
        if not bad:
            self.rows += [
                Row(n, dict(zip(names, values, strict=True)))
                for n, values in zip(numbers, zip(*parsed, strict=True), strict=True)
            ]
            return
        for k, (number, values) in enumerate(zip(numbers, zip(*parsed, strict=True), strict=True)):
            if k in bad:
                self.partial.append(Row(number, {n: v for n, v in zip(names, values, strict=True) if v is not BAD}))
            else:
                self.rows.append(Row(number, dict(zip(names, values, strict=True))))

    def stray_values(self, number: int, cells: list[str], header: list[str], unnamed: list[int]) -> bool:
        """Whether row ``number`` has values in columns without a name or beyond the last one (each a problem)."""
        stray = False
        for i in [*unnamed, *range(len(header), len(cells))]:
            if i < len(cells) and (cells[i].strip() or (self.unreadable and (number, i) in self.unreadable)):
                if i in unnamed:
                    message = gettext("A value in a column without a name in the header.")
                else:
                    message = gettext("A value beyond the last named column.")
                self.problem(number, column_label(i, header), message)
                stray = True
        return stray

    def parse_cell(
        self, column: f.Column, cell: str, number: int, bad: set[int], k: int, unreadable: str | None
    ) -> Any:
        """One cell's value, or BAD (and a problem, and row ``k`` of the block marked bad)."""
        if unreadable is not None:
            self.problem(number, self.labels[column.field], unreadable)
        elif len(cell) > MAX_FIELD + cell.startswith("'"):  # an export's apostrophe does not count
            message = gettext("The cell holds %(length)d characters; at most %(limit)d fit.")
            message %= {"length": len(cell), "limit": MAX_FIELD}
            self.problem(number, self.labels[column.field], message)
        else:
            try:
                return column.parse(cell)
            except ValueError as exc:
                self.problem(number, self.labels[column.field], str(exc))
        bad.add(k)
        return BAD

    def problem(self, row: int | None, column: str | None, message: str) -> None:
        self.report.problems.append(Problem(row, column, message))

    def at(self, row: Row | int, field_name: str | None, message: str) -> None:
        number = row.number if isinstance(row, Row) else row
        self.problem(number, self.labels.get(field_name or "", repr(field_name) if field_name else None), message)


# --- Phase one, per kind: planning what to write -------------------------------------------------------------


@dataclass
class Step:
    """Writes for one model: inserts in levels (a level may point to rows of an earlier one), then updates.

    A level holds model instances, or file rows that ``make`` turns into plain dicts of values a batch at a time
    while writing (so a big file never has all its values twice in memory, and costs no model instance a row).
    Values ``("new", key)`` point to a row this step inserts; ``created`` maps those keys to the ids they got.
    """

    model: type[models.Model]
    levels: list[list[Any]] = field(default_factory=list)
    updates: list[models.Model] = field(default_factory=list)
    update_fields: list[str] = field(default_factory=list)
    make: Callable[[Any], dict[str, Any]] | None = None
    key: str | None = None
    created: dict[str, int] = field(default_factory=dict)
    # Employees whose work e-mail another row of this file takes (a move or a swap): the address is unique, so
    # they give it up for a placeholder before any row is written.
    release_emails: list[int] = field(default_factory=list)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, f.Blank):
            return value.default
        return self.created[value[1]] if isinstance(value, tuple) else value


def chunks(items: Sequence[Any], size: int = BATCH_SIZE) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def fetch(
    queryset: models.QuerySet, key: str, keys: Iterable[Any], *, key_of: Callable[[Any], str] | None = None
) -> list[Any]:
    """``queryset`` rows whose ``key`` is among ``keys``, one query per batch of keys.

    Given ``key_of`` (how to read the text key off a row), a file that names most of a table reads the whole table
    in one pass instead, keeping the rows whose key matches without regard to case or accents (``fold``): building
    ``IN`` lists of thousands of values costs more than reading the rows. So does any file on SQLite, whose ``IN``
    compares text byte for byte (MariaDB's collation does not), so that a key matches whatever its case and accents
    and whatever the size of the file. Into an empty table, nothing is read at all.
    """
    wanted = set(keys)
    if not wanted:
        return []
    queryset = queryset.order_by()  # in no order: a model's default ordering would make the database sort them
    if key_of is not None:
        stored = queryset.model._default_manager.count()
        if stored <= 2 * len(wanted) or connections[queryset.db].vendor == "sqlite":
            folded = {fold(k) for k in wanted}
            return [row for row in queryset.iterator(BATCH_SIZE) if fold(key_of(row)) in folded] if stored else []
    found: list[Any] = []
    for part in chunks(sorted(wanted)):
        found.extend(queryset.filter(**{f"{key}__in": part}))
    return found


def links_above(model: type[models.Model], key: str, attname: str, start: set[int]) -> list[tuple[int, str, Any]]:
    """(id, key, parent id) of the rows ``start`` names and of every row above them in the tree ``attname`` links,
    read a level at a time. Many starting rows, or a tree deeper than ``LINK_LEVELS``, are read whole in one pass
    instead: then the IN lists would cost more than the rows."""
    links = model.objects.order_by().values_list("id", key, attname)
    if len(start) > BATCH_SIZE:
        return list(links)
    found: dict[int, tuple[int, str, Any]] = {}
    frontier = start
    for _ in range(LINK_LEVELS):
        if not frontier:
            return list(found.values())
        level = [link for part in chunks(sorted(frontier)) for link in links.filter(id__in=part)]
        found.update((link[0], link) for link in level)
        frontier = {parent for _, _, parent in level if parent is not None and parent not in found}
    return list(links)


UNKNOWN = {  # whole sentences, for the translators
    ("department code", False): gettext_noop("Unknown department code %(value)s: there is none in the database."),
    ("department code", True): gettext_noop(
        "Unknown department code %(value)s: there is none in the database or in this file."
    ),
    ("employee number", False): gettext_noop("Unknown employee number %(value)s: there is none in the database."),
    ("employee number", True): gettext_noop(
        "Unknown employee number %(value)s: there is none in the database or in this file."
    ),
    ("project code", False): gettext_noop("Unknown project code %(value)s: there is none in the database."),
    ("role", False): gettext_noop("Unknown role %(value)s: there is none in the database."),
}


def unknown(noun: str, value: str, *, or_in_file: bool = False) -> str:
    """The problem of a reference to nothing: ``noun`` names what was looked for, ``or_in_file`` whether this file
    could have defined it."""
    return gettext(UNKNOWN[(noun, or_in_file)]) % {"value": repr(value)}


def collation_weights(model: type[models.Model], field_name: str, values: Iterable[str]) -> dict[str, bytes]:
    """MariaDB: each value's weight in the collation of ``model``'s column (``WEIGHT_STRING``): two values are one
    to that column exactly when their weights are equal."""
    meta = model._meta
    with connections[router.db_for_write(model)].cursor() as cursor:
        cursor.execute(
            "SELECT COLLATION_NAME FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s",
            [meta.db_table, meta.get_field(field_name).column],
        )
        (collation,) = cursor.fetchone()
        if not collation.replace("_", "").isalnum():
            raise RuntimeError(f"Unexpected collation name {collation!r}")
        weights: dict[str, bytes] = {}
        one = f"WEIGHT_STRING(CONVERT(%s USING utf8mb4) COLLATE {collation})"
        for part in chunks(sorted(set(values)), 500):
            cursor.execute("SELECT " + ", ".join([one] * len(part)), part)
            weights.update(zip(part, map(bytes, cursor.fetchone()), strict=True))
    return weights


def unchanged(value: Any, stored: Any) -> bool:
    """Whether a file's value leaves the stored one as it is. A file's cells are read without the spaces around
    them, so text stored with some (by code, or the shell: the admin strips them too) is unchanged by its own
    export imported back."""
    return value == stored or (type(value) is str and type(stored) is str and stored.strip() == value)


def concrete_attnames(model: type[models.Model]) -> list[str]:
    return [fld.attname for fld in model._meta.concrete_fields]


@dataclass(frozen=True)
class Reference:
    model: type[models.Model]
    key: str
    noun: str  # how an error names what was looked for


REFERENCES = {
    ("departments", "parent"): Reference(Department, "code", "department code"),
    ("employees", "department"): Reference(Department, "code", "department code"),
    ("employees", "manager"): Reference(Employee, "employee_number", "employee number"),
    ("projects", "department"): Reference(Department, "code", "department code"),
}
ROLE_RULES = {"applies_to", "single_holder"}  # a role's fields its assignments on record must keep obeying
NATURAL_KEYS = {"departments": "code", "employees": "employee_number", "projects": "code", "roles": "name"}
MODELS = {"departments": Department, "employees": Employee, "projects": Project, "roles": Role}


# What a job history's row of today does to the employee's record (Planner.moves).
MOVE, IN_PLACE, SUPERSEDED = "move", "in place", "superseded"


def history_role(name: str) -> Role | None:
    """The role whose department assignments are the job history (``--member-role``, Team Member when empty),
    matched as every role name of a file is: in any case, and trimmed."""
    wanted = fold(name.strip() or MEMBER_ROLE)
    return next((role for role in Role.objects.all() if fold(role.name) == wanted), None)


class Planner:
    """Turns the parsed rows of one kind into the inserts and updates that make the database match them."""

    def __init__(self, kind: str, sheet: Sheet, report: Report, *, member_role: str = MEMBER_ROLE) -> None:
        self.kind, self.sheet, self.report, self.member_role = kind, sheet, report, member_role.strip() or MEMBER_ROLE
        self.dry_run = report.dry_run
        self.row_of_key: dict[Any, int] = {}
        self.leavers_ended: list[Assignment] = []  # what leavers of an employees file hold past their leave date
        self.steps: list[Step] = []
        self.locked_employees: set[int] = set()
        self.locked_departments: set[int] = set()

    def count(self, model: type[models.Model]) -> Counts:
        return self.report.counts.setdefault(str(model._meta.verbose_name_plural), Counts())

    def plan(self) -> list[Step]:
        if self.kind in NATURAL_KEYS:
            self.plan_keyed()
        elif self.kind == "assignments":
            self.plan_assignments_rows()
        else:
            self.plan_history()
        return self.steps

    # Departments, employees, projects, roles ---------------------------------------------------------------

    def plan_keyed(self) -> None:
        kind, sheet = self.kind, self.sheet
        model, key = MODELS[kind], NATURAL_KEYS[kind]
        counts = self.count(model)
        folded_key = {r.number: fold(r.values[key]) for r in sheet.rows}  # once a row: 100,000 rows ask it often
        rows = self.unique_rows(sheet.rows, lambda r: folded_key[r.number], key)
        # Rows with a bad cell but a key: checked with the others as far as their other cells go (an address that
        # is taken, a loop, dates out of order), so that correcting the bad cell brings up no new problem there.
        keyed_partial = [r for r in sheet.partial if key in r.values]
        folded_key.update((r.number, fold(r.values[key])) for r in keyed_partial)
        attnames = concrete_attnames(model)
        stored = {
            fold(values[key]): values
            for values in fetch(
                model.objects.values(*attnames),
                key,
                [r.values[key] for r in [*rows, *keyed_partial]],
                key_of=lambda v: v[key],
            )
        }

        self.check_keys_as_the_database_compares_them(model, key, [*rows, *keyed_partial])

        def before(r: Row) -> dict[str, Any]:
            """The stored values of the row ``r`` updates; nothing for a new row."""
            return stored.get(folded_key[r.number]) or {}

        fields = [name for name in sheet.present if name != key]
        # References become the id they point to, or ("new", key) for the row of this file that will create it.
        checked = rows + sheet.partial
        # A reference to a row of this file, one object each (a manager of many is pointed to many times).
        new_refs = {
            folded: ("new", folded) for r in checked if (k := r.values.get(key)) and (folded := fold(k)) not in stored
        }
        for name in fields:
            ref = REFERENCES.get((kind, name))
            if ref is None:
                continue
            wanted = {r.values[name] for r in checked if r.values.get(name)}
            self_reference = ref.model is model
            # A reference to a row of this file that is already stored needs no lookup: it was read above.
            ids = {k: values["id"] for k, values in stored.items()} if self_reference else {}
            wanted = {w for w in wanted if fold(w) not in ids}
            pairs = fetch(ref.model.objects.values_list(ref.key, "id"), ref.key, wanted, key_of=lambda v: v[0])
            ids.update((fold(k), i) for k, i in pairs)
            for r in checked:
                target = r.values.get(name)
                if not target:
                    r.values[name] = None
                elif (found := ids.get(folded := fold(target))) is not None:
                    r.values[name] = found
                elif self_reference and (ref_new := new_refs.get(folded)) is not None:
                    r.values[name] = ref_new
                else:
                    sheet.at(r, name, unknown(ref.noun, target, or_in_file=self_reference))
        self_field = next((n for n in fields if (ref := REFERENCES.get((kind, n))) and ref.model is model), None)
        if self_field:
            self_attname = model._meta.get_field(self_field).attname
            moved = [
                r
                for r in [*rows, *keyed_partial]
                if self_field in r.values and r.values[self_field] != before(r).get(self_attname)
            ]
            self.check_cycles(model, key, self_field, moved, lambda r: r.values[self_field])
        released: list[int] = []
        if kind == "employees":
            with_address = [r for r in keyed_partial if "work_email" in r.values or "work_email" not in fields]
            released = self.check_employees([*rows, *with_address], stored, before, fields)
        if kind == "projects":
            self.check_dates_in_order(
                [*rows, *keyed_partial],
                before,
                "start_date",
                "end_date",
                lambda start, end: (
                    gettext("The end date %(end)s is before the start date %(start)s.") % {"end": end, "start": start}
                ),
            )
        attname_of = {name: model._meta.get_field(name).attname for name in fields}
        if kind == "roles":  # whatever else is wrong in the file, so that correcting it brings up no new problem
            for r in [*rows, *keyed_partial]:
                if (stored_role := before(r)) and (
                    stricter := [
                        name
                        for name in sorted(ROLE_RULES & set(fields))
                        if name in r.values
                        and not isinstance(r.values[name], f.Blank)
                        and r.values[name] != stored_role[attname_of[name]]
                    ]
                ):
                    role = model(**stored_role)
                    for name in stricter:
                        setattr(role, attname_of[name], r.values[name])
                    self.check_role_change(r, role, stricter)
        if self.report.problems:
            return
        step = Step(model, key=key, release_emails=released)

        def make(r: Row) -> dict[str, Any]:
            return {key: r.values[key], **{attname_of[name]: step.resolve(r.values[name]) for name in fields}}

        step.make = make
        new_rows: dict[str, Row] = {}
        changed_fields: set[str] = set()
        before_active: dict[int, bool] = {}  # departments: whether an updated one was active
        for r in rows:
            row_key = folded_key[r.number]
            before = stored.get(row_key)
            if before is None:
                new_rows[row_key] = r
                continue
            differs = [
                name
                for name in fields
                if not unchanged(r.values[name], before[attname_of[name]]) and not isinstance(r.values[name], f.Blank)
            ]
            if not differs:
                counts.unchanged += 1
                continue
            changed_fields.update(differs)
            obj = model(**before)
            if kind == "departments":
                before_active[obj.pk] = before["active"]
            for name in differs:
                setattr(obj, attname_of[name], r.values[name])  # ("new", key) is resolved when written
            step.updates.append(obj)
            counts.updated += 1
        counts.created += len(new_rows)
        if kind == "departments":
            self.note_departments_still_in_use([d for d in step.updates if not d.active and before_active[d.pk]])
        # New rows pointing to new rows go in after them: a level per step down the tree.
        depth_of: dict[str, int] = {}
        for row_key in new_rows:
            path, node = [], row_key
            while node not in depth_of:
                target = new_rows[node].values.get(self_field) if self_field else None
                if not isinstance(target, tuple):
                    depth_of[node] = 0
                    break
                path.append(node)
                node = target[1]
            depth = depth_of[node]
            for node in reversed(path):
                depth += 1
                depth_of[node] = depth
        levels: dict[int, list[Row]] = defaultdict(list)
        for row_key, r in new_rows.items():
            levels[depth_of[row_key]].append(r)
        step.levels = [levels[d] for d in sorted(levels)]
        step.update_fields = sorted(changed_fields)
        self.steps.append(step)
        if self.leavers_ended:  # after the leave dates, as the admin writes them
            self.count(Assignment).updated += len(self.leavers_ended)
            self.steps.append(Step(Assignment, updates=self.leavers_ended, update_fields=["end_date"]))

    def note_departments_still_in_use(self, closing: list[Department]) -> None:
        """As the admin warns of it: what still relies on the departments the file makes inactive (the first few
        named), to end or move."""
        in_use = selectors.departments_still_in_use(closing, closing=[d.pk for d in closing])
        self.report.notes.extend(map(str, in_use[:NOTES_NAMED]))
        if len(in_use) > NOTES_NAMED:
            more = gettext("… and %(count)d more departments made inactive that something still relies on.")
            self.report.notes.append(more % {"count": len(in_use) - NOTES_NAMED})

    def check_role_change(self, r: Row, role: Role, differs: list[str]) -> None:
        """A stored role may change where it applies or whether it has a single holder only if the assignments on
        record keep the rules (``org.services.role_problems``, as the admin's role form asks). That costs a few
        queries per role, and only for a row that makes a role stricter: a roles file names a company's few dozen
        roles at most, and an unchanged one asks nothing, so one call per changed role stays small."""
        changed = [name for name in differs if name in ROLE_RULES]
        problems = role_problems(role=role, applies_to=role.applies_to, single_holder=role.single_holder)
        for name, messages in problems.items():
            column = name if name in self.sheet.labels else changed[0]
            for message in messages:
                self.sheet.at(r, column, str(message))

    def unique_rows(
        self,
        rows: list[Row],
        key_of: Callable[[Row], Any],
        field_name: str,
        duplicate: Callable[[Row, Row], str] | None = None,
    ) -> list[Row]:
        """Rows with a natural key not seen on an earlier row; a repeated key is a problem on the later row, told
        by ``duplicate(row, first row)`` or else as the same value of ``field_name``."""
        first: dict[Any, Row] = {}
        kept: list[Row] = []
        for r in rows:
            k = key_of(r)
            if (earlier := first.get(k)) is not None:
                self.sheet.at(r, field_name, (duplicate or self.same_key(field_name))(r, earlier))
                continue
            first[k] = r
            kept.append(r)
        self.row_of_key = {k: r.number for k, r in first.items()}
        return kept

    @staticmethod
    def same_key(field_name: str) -> Callable[[Row, Row], str]:
        def duplicate(r: Row, earlier: Row) -> str:
            value, there = r.values[field_name], earlier.values[field_name]
            if value == there:
                message = gettext("Duplicate of row %(row)d: %(value)s is there already; a key appears once in a file.")
            else:
                message = gettext(
                    "Duplicate of row %(row)d: %(value)s is %(there)s there, the same key whatever the case and"
                    " accents; a key appears once in a file."
                )
            return message % {"row": earlier.number, "value": repr(f.shorten(value)), "there": repr(f.shorten(there))}

        return duplicate

    def check_keys_as_the_database_compares_them(self, model: type[models.Model], key: str, rows: list[Row]) -> None:
        """On MariaDB, keys beyond ASCII that its collation takes for one but ``fold`` tells apart: to
        utf8mb4_unicode_ci every emoji is one character, and a hiragana word its katakana twin. Its unique index
        would refuse such a key with no row to name; said here on the row, against the stored key or the row of
        the file it is one with. Keys in ASCII fold as the collation compares them, and cost nothing here."""
        odd = [r for r in rows if not r.values[key].isascii()]
        if not odd or connections[router.db_for_write(model)].vendor != "mysql":
            return
        keys = {r.values[key] for r in odd}
        twins = set(fetch(model.objects.values_list(key, flat=True), key, keys))  # as the collation matches
        weight = collation_weights(model, key, keys | twins)
        stored_of = {weight[k]: k for k in twins}
        first: dict[bytes, Row] = {}
        for r in odd:
            value, w = r.values[key], weight[r.values[key]]
            there = stored_of.get(w)
            if there is not None and fold(there) != fold(value):
                message = gettext(
                    "The database takes %(value)s for the stored %(there)s: its collation does not tell them apart."
                    " Use the stored key, or one that differs by more."
                )
                self.sheet.at(r, key, message % {"value": repr(value), "there": repr(there)})
            elif (earlier := first.setdefault(w, r)) is not r and fold(earlier.values[key]) != fold(value):
                message = gettext(
                    "Duplicate of row %(row)d: the database takes %(value)s for %(there)s there, which its collation"
                    " does not tell apart; a key appears once in a file."
                )
                self.sheet.at(
                    r, key, message % {"row": earlier.number, "value": repr(value), "there": repr(earlier.values[key])}
                )

    def check_cycles(
        self, model: type[models.Model], key: str, field_name: str, moved: list[Row], target_of: Callable[[Row], Any]
    ) -> None:
        """No row may end up above itself: the tree as stored, with the links this file changes, walked from each
        row of ``moved`` (the rows that give a row a new place in the tree; a loop must pass through one of them).
        ``target_of`` gives the id a row points to, ``("new", key)`` for a row of the file, or None."""
        if not moved:
            return
        attname = model._meta.get_field(field_name).attname
        stored_links = links_above(model, key, attname, {t for r in moved if type(t := target_of(r)) is int})
        key_of_id = {pk: fold(k) for pk, k, _ in stored_links}
        parent_of: dict[str, str | None] = {fold(k): key_of_id.get(parent) for _, k, parent in stored_links}
        spelled = {fold(k): k for _, k, _ in stored_links}  # a loop is told in the codes as written, not folded
        for r in moved:
            target = target_of(r)
            spelled[folded := fold(r.values[key])] = r.values[key]
            parent_of[folded] = target[1] if isinstance(target, tuple) else key_of_id.get(target) if target else None
        if model is Department:
            looping = gettext("This would make a loop in the department tree: %(loop)s.")
        else:
            looping = gettext("This would make a loop in the chain of managers: %(loop)s.")
        settled: set[str] = set()  # known to lead up to the top, or already reported: walked once, never again
        for r in moved:
            start = fold(r.values[key])
            if start in settled:
                continue
            path: list[str] = []
            on_path: set[str] = set()
            node: str | None = start
            while node is not None and node not in on_path and node not in settled:
                path.append(node)
                on_path.add(node)
                node = parent_of.get(node)
            if node is None or node in settled:
                settled.update(path)
            elif node == start:  # one report per loop, on the first of its rows
                settled.update(path)
                loop = " → ".join(spelled.get(node, node) for node in [*path, start])
                self.sheet.at(r, field_name, looping % {"loop": loop})

    def check_dates_in_order(
        self,
        rows: list[Row],
        before: Callable[[Row], dict[str, Any]],
        earlier: str,
        later: str,
        message: Callable[[Any, Any], str],
    ) -> None:
        """No row may end up with its ``later`` date before its ``earlier`` one, each from the file or else stored."""
        for r in rows:
            stored = before(r)
            start, end = r.values.get(earlier, stored.get(earlier)), r.values.get(later, stored.get(later))
            if start and end and end < start:
                self.sheet.at(r, later, message(start, end))

    def check_employees(
        self, rows: list[Row], stored: dict[str, dict], before: Callable[[Row], dict[str, Any]], fields: list[str]
    ) -> list[int]:
        """Addresses, dates and leavers checked; returns the ids of stored employees whose address another row of
        the file takes (a move or a swap), to be released before any row is written."""
        sheet = self.sheet
        released: list[int] = []
        if "work_email" in fields:
            # Only an address new to its employee can belong to somebody else.
            new_addresses = [email for r in rows if (email := r.values["work_email"]) != before(r).get("work_email")]
            owners = dict(
                fetch(
                    Employee.objects.values_list("work_email", "employee_number"),
                    "work_email",
                    new_addresses,
                    key_of=lambda v: v[0],
                )
            )
            in_file: dict[str, Row] = {}
            for r in rows:
                email, number = r.values["work_email"], fold(r.values["employee_number"])
                if email in in_file:
                    message = gettext("%(email)s is also the address on row %(row)d.")
                    sheet.at(r, "work_email", message % {"email": email, "row": in_file[email].number})
                    continue
                in_file[email] = r
                owner = owners.get(email)
                if owner is None or (folded := fold(owner)) == number:
                    continue
                if folded in self.row_of_key:  # the owner's own row gives them another address
                    released.append(stored[folded]["id"])
                else:
                    message = gettext("%(email)s already belongs to employee %(number)s in the database.")
                    sheet.at(r, "work_email", message % {"email": email, "number": owner})
        self.check_dates_in_order(
            rows,
            before,
            "hire_date",
            "leave_date",
            lambda hire, leave: (
                gettext("The leave date %(leave)s is before the hire date %(hire)s.") % {"leave": leave, "hire": hire}
            ),
        )
        leavers = {
            stored_row["id"]: r
            for r in rows
            if (stored_row := before(r))
            and r.values.get("leave_date")
            and r.values["leave_date"] != stored_row["leave_date"]
        }
        if leavers and not self.dry_run:
            self.lock_for_leavers(rows, leavers)
        # As the admin does (services.employee_mark_left): what a leaver holds on the leave date ends that day,
        # and what starts after it must be handed over first.
        held = fetch(Assignment.objects.with_related(), "employee_id", leavers)
        starting_later: dict[int, list[Assignment]] = defaultdict(list)
        for assignment in sorted(held, key=lambda a: (a.start_date, a.pk)):
            leave = leavers[assignment.employee_id].values["leave_date"]
            if assignment.start_date > leave:
                starting_later[assignment.employee_id].append(assignment)
            elif assignment.end_date is None or assignment.end_date > leave:
                assignment.end_date = leave
                # The audit trail says why, as the admin's does; ``write`` adds which import.
                left = gettext("Ended: %(employee)s left on %(date)s")
                assignment._change_reason = left % {"employee": assignment.employee, "date": leave}
                self.leavers_ended.append(assignment)
        for employee_id, planned in starting_later.items():
            sheet.at(
                leavers[employee_id],
                "leave_date",
                ngettext(
                    "%(count)d assignment starts after this leave date: %(examples)s; hand it over first.",
                    "%(count)d assignments start after this leave date: %(examples)s; hand them over first.",
                    len(planned),
                )
                % {"count": len(planned), "examples": assignments_named(planned, len(planned))},
            )
        return released

    def lock_for_leavers(self, rows: list[Row], leavers: dict[int, Row]) -> None:
        """Before what the leavers hold is read: lock the targets of their assignments and the departments this
        file's rows point to, then the leavers, in the order every writer of assignments keeps
        (``services.lock_for``, as ``employee_leave_problems`` does for the admin). An assignment written for a
        leaver meanwhile is then seen, and one written later waits for this import and meets its leave date. The
        departments come first because writing an employee that points to one takes a lock on it: taken after
        the leavers, it could wait for a writer that holds the department and waits for a leaver."""
        pointed_to = {d for r in rows if type(d := r.values.get("department")) is int}
        ids = sorted(leavers)
        targets = [
            pair
            for part in chunks(ids)
            for pair in Assignment.objects.filter(employee_id__in=part).values_list("department_id", "project_id")
        ]
        self.lock_departments({*pointed_to, *(d for d, _ in targets if d)})
        for part in chunks(sorted({p for _, p in targets if p})):
            lock_targets(project_ids=part)
        for part in chunks(ids):
            lock_employees(part)

    # Assignments -------------------------------------------------------------------------------------------

    def plan_assignments_rows(self) -> None:
        sheet = self.sheet
        rows = sheet.rows + sheet.partial
        # A bad target cell (a code too long, say) leaves its row's target unknown: neither "fill in exactly one"
        # nor the rules of the other target are said of it.
        targets_read = [r for r in rows if all(n in r.values for n in ("department", "project") if n in sheet.present)]
        for r in targets_read:
            if bool(r.values.get("department")) == bool(r.values.get("project")):
                sheet.at(r, "department", gettext("Fill in exactly one of department and project (by code)."))
        # Rows checked against the rules: those naming one target, a row with a bad cell too when that cell is not
        # one the rules read (an allocation, a note), so that correcting it brings up no new problem there.
        read_by_rules = [n for n in ("employee", "role", "level", "start_date", "end_date") if n in sheet.present]
        good = {
            id(r)
            for r in targets_read
            if bool(r.values.get("department")) != bool(r.values.get("project"))
            and all(n in r.values for n in read_by_rules)
        }
        employees = self.employees_by_number([r.values["employee"] for r in rows if r.values.get("employee")])
        roles = {fold(role.name): role for role in Role.objects.all()}
        departments = self.targets(Department, [r.values.get("department") for r in rows])
        projects = self.targets(Project, [r.values.get("project") for r in rows])
        wanted: list[tuple[Row, Assignment]] = []
        for r in rows:
            v = r.values
            employee = employees.get(fold(v["employee"])) if v.get("employee") else None
            role = roles.get(fold(v["role"])) if v.get("role") else None
            department = departments.get(fold(v["department"])) if v.get("department") else None
            project = projects.get(fold(v["project"])) if v.get("project") else None
            for found, name, noun in ((employee, "employee", "employee number"), (role, "role", "role")):
                if found is None and v.get(name):
                    sheet.at(r, name, unknown(noun, v[name]))
            if v.get("department") and department is None:
                sheet.at(r, "department", unknown("department code", v["department"]))
            if v.get("project") and project is None:
                sheet.at(r, "project", unknown("project code", v["project"]))
            if id(r) not in good or employee is None or role is None or (department or project) is None:
                continue
            a = Assignment(employee=employee, role=role, department=department, project=project)
            for name in ("level", "start_date", "end_date", "allocation", "note"):
                if name in sheet.present:  # a bad cell's value is missing: none, as an empty cell's
                    value = v.get(name)
                    setattr(a, name, value.default if isinstance(value, f.Blank) else value)
            a.level = a.level or role.default_level
            wanted.append((r, a))
        fields = [n for n in ("level", "end_date", "allocation", "note") if n in sheet.present]
        self.plan_assignments(wanted, fields)

    def employees_by_number(self, numbers: Iterable[str]) -> dict[str, Employee]:
        people = fetch(
            Employee.objects.only(
                "id", "employee_number", "first_name", "last_name", "leave_date", "hire_date", "manager_id"
            ),
            "employee_number",
            numbers,
            key_of=lambda e: e.employee_number,
        )
        return {fold(e.employee_number): e for e in people}

    def targets(self, model: type[Department | Project], codes: Iterable[str | None]) -> dict[str, Any]:
        found = fetch(
            model.objects.only("id", "code", "name"), "code", [c for c in codes if c], key_of=lambda t: t.code
        )
        return {fold(t.code): t for t in found}

    def lock_employees(self, employees: Iterable[Employee]) -> None:
        """Lock ``employees`` after the targets, as every writer of assignments does (``org.services.lock_for``),
        by id a batch at a time, and read their leave dates into them afresh: a leave date committed since they were
        read (``services.employee_mark_left`` takes the same locks) is seen, and one set later waits for the import
        to commit. A dry run locks nothing, as it locks no target."""
        if self.dry_run:
            return
        by_id = {e.pk: e for e in employees if e.pk not in self.locked_employees}
        for part in chunks(sorted(by_id), BATCH_SIZE):
            for pk, leave_date in lock_employees(part).items():
                employee = by_id[pk]
                employee.leave_date = employee.loaded_leave_date = leave_date
        self.locked_employees.update(by_id)

    def lock_roles(self, roles: Iterable[Role]) -> None:
        """Share a lock on ``roles`` after the employees (``services.lock_roles``) and read their rules into them
        afresh: a change of where a role applies or of its single holder, made in the admin meanwhile, is seen, and
        one made later waits for the import to commit. A dry run locks nothing."""
        if self.dry_run:
            return
        by_id = {role.pk: role for role in roles if role.pk}
        for part in chunks(sorted(by_id)):
            for pk, (applies_to, single_holder) in lock_roles(part).items():
                by_id[pk].applies_to, by_id[pk].single_holder = applies_to, single_holder

    def lock_departments(self, department_ids: Iterable[int]) -> None:
        """Lock these departments, a batch at a time, unless this import locked them already (``lock_history``
        takes a history's before ``plan_assignments`` would)."""
        wanted = set(department_ids) - self.locked_departments
        for part in chunks(sorted(wanted)):
            lock_targets(department_ids=part)
        self.locked_departments.update(wanted)

    def plan_assignments(
        self, wanted: list[tuple[Row, Assignment]], fields: list[str], column_of: dict[str, str] | None = None
    ) -> None:
        """Match ``wanted`` assignments to stored ones by employee, role, target and start; check every rule
        against each other and against the stored assignments of the same targets; plan the writes."""
        counts = self.count(Assignment)
        sheet = self.sheet
        department_ids = {a.department_id for _, a in wanted if a.department_id}
        project_ids = {a.project_id for _, a in wanted if a.project_id}
        if not self.dry_run:  # what the rules are checked against holds until the import commits
            self.lock_departments(department_ids)
            for part in chunks(sorted(project_ids)):
                lock_targets(project_ids=part)
        self.lock_employees(a.employee for _, a in wanted)  # then the leave dates checked below are today's
        self.lock_roles(a.role for _, a in wanted)  # and the rules of their roles
        stored = fetch(
            Assignment.objects.select_related("employee", "role", "department", "project"),
            "department_id",
            department_ids,
        )
        stored += fetch(
            Assignment.objects.select_related("employee", "role", "department", "project"), "project_id", project_ids
        )

        def natural(a: Assignment) -> tuple:
            return (a.employee_id, a.role_id, a.department_id, a.project_id, a.start_date)

        by_key = {natural(a): a for a in stored}
        first_row: dict[tuple, int] = {}
        batch: list[tuple[Row, Assignment]] = []
        replaced: set[int] = set()
        step = Step(Assignment)
        changed_fields: set[str] = set()
        creates: list[Assignment] = []
        for r, a in wanted:
            k = natural(a)
            if k in first_row:
                message = gettext("Duplicate of row %(row)d: same employee, role, target and start date.")
                sheet.at(r, "start_date", message % {"row": first_row[k]})
                continue
            first_row[k] = r.number
            before = by_key.get(k)
            if before is None:
                creates.append(a)
                counts.created += 1
                batch.append((r, a))
                continue
            differs = [
                n
                for n in fields
                if not unchanged(getattr(a, n), getattr(before, n)) and not isinstance(r.values.get(n), f.Blank)
            ]
            if not differs:
                counts.unchanged += 1
                continue
            for n in differs:
                setattr(before, n, getattr(a, n))
            changed_fields.update(differs)
            replaced.add(before.pk)
            step.updates.append(before)
            batch.append((r, before))
            counts.updated += 1
        saved = [a for a in stored if a.pk not in replaced]
        violations = assignments_batch_violations([a for _, a in batch], saved)
        column_of = column_of or {"__all__": "department"}
        for (r, _), errors in zip(batch, violations, strict=True):
            for name, messages in errors.items():
                column = column_of.get(name, name)
                if column not in sheet.labels:
                    column = next(iter(sheet.labels))
                for message in messages:
                    sheet.at(r, column, message)
        step.levels = [creates] if creates else []
        step.update_fields = sorted(changed_fields)
        self.steps.append(step)

    # Job history -------------------------------------------------------------------------------------------

    def plan_history(self) -> None:
        """Each employee's rows, in date order, become periods in a home department (an assignment of the member
        role there, ended the day before the next move, or on the leave date); the row in force today sets the
        employee's department, job title and manager."""
        sheet = self.sheet

        def same_day(r: Row, earlier: Row) -> str:
            message = gettext(
                "Duplicate of row %(row)d: two changes of %(employee)s on %(date)s; keep the one in force that day."
            )
            return message % {
                "row": earlier.number,
                "employee": r.values["employee_number"],
                "date": r.values["effective_date"],
            }

        rows = self.unique_rows(
            sheet.rows,
            lambda r: (fold(r.values["employee_number"]), r.values["effective_date"]),
            "effective_date",
            same_day,
        )
        employees = self.employees_by_number(
            [r.values["employee_number"] for r in rows] + [r.values["manager"] for r in rows if r.values.get("manager")]
        )
        departments = self.targets(Department, [r.values["department"] for r in rows])
        # Matched without regard to case, as every role name of a file is: "team member" is the stored "Team Member".
        role = history_role(self.member_role)
        role_step = None
        if role is None:
            try:  # a name a roles file could hold, so that the role exports and imports back
                ROLE_NAME(self.member_role)
            except ValueError as exc:
                message = gettext("The role %(role)s for home-department assignments cannot be created: %(problem)s")
                sheet.problem(None, None, message % {"role": repr(f.shorten(self.member_role)), "problem": exc})
                return
            role = Role(name=self.member_role, applies_to=AppliesTo.DEPARTMENT, default_level=Level.RESPONSIBLE)
            role_step = Step(Role, levels=[[role]])
            self.count(Role).created += 1
            note = gettext("The role %(role)s is created for home-department assignments.")
            self.report.notes.append(note % {"role": repr(self.member_role)})
        elif not role.applies_to_target(Department()):
            message = gettext("The role %(role)s does not apply to departments.")
            sheet.problem(None, None, message % {"role": repr(self.member_role)})
            return
        if not self.dry_run:
            in_file = {fold(r.values["employee_number"]) for r in rows}
            self.lock_history(role, departments.values(), [e for n, e in employees.items() if n in in_file])
        by_employee: dict[str, list[Row]] = defaultdict(list)
        for r in rows:
            v = r.values
            ok = True
            if fold(v["employee_number"]) not in employees:
                sheet.at(r, "employee_number", unknown("employee number", v["employee_number"]))
                ok = False
            if fold(v["department"]) not in departments:
                sheet.at(r, "department", unknown("department code", v["department"]))
                ok = False
            if v.get("manager") and fold(v["manager"]) not in employees:
                sheet.at(r, "manager", unknown("employee number", v["manager"]))
                ok = False
            elif v.get("manager") and fold(v["manager"]) == fold(v["employee_number"]):
                sheet.at(r, "manager", gettext("An employee cannot be their own manager."))
                ok = False
            employee = employees.get(fold(v["employee_number"]))
            if ok and employee.leave_date is not None and v["effective_date"] > employee.leave_date:
                sheet.at(
                    r,
                    "effective_date",
                    gettext("%(employee)s left on %(date)s; a change cannot take effect after that.")
                    % {"employee": employee, "date": employee.leave_date},
                )
                ok = False
            if ok:
                by_employee[fold(v["employee_number"])].append(r)
        # Employees with a row left out (refused, or with a bad cell): their file rows are not all known, so a stored
        # stay between two of those kept is not said to contradict the file (the left-out row may restate it).
        kept = {id(r) for changes in by_employee.values() for r in changes}
        left_out = {
            fold(number)
            for r in [*sheet.rows, *sheet.partial]
            if id(r) not in kept and (number := r.values.get("employee_number"))
        }
        # A history may rightly go back before a rehire's hire date, so a row before it is let through, with a note.
        early = [
            (r, employee)
            for number, changes in by_employee.items()
            for r in changes
            if (employee := employees[number]).hire_date and r.values["effective_date"] < employee.hire_date
        ]
        if early:
            r, employee = min(early, key=lambda pair: pair[0].number)
            note = ngettext(
                "%(count)d row takes effect before the employee's hire date (row %(row)d: %(employee)s, hired on"
                " %(hired)s); its stay starts then all the same: check the hire date.",
                "%(count)d rows take effect before their employee's hire date (the first, row %(row)d: %(employee)s,"
                " hired on %(hired)s); their stays start then all the same: check the hire dates.",
                len(early),
            )
            self.report.notes.append(
                note % {"count": len(early), "row": r.number, "employee": employee, "hired": employee.hire_date}
            )
        today = timezone.localdate()
        in_force = {}  # employee → the row that sets their department, title and manager today
        for number, changes in by_employee.items():
            current = [r for r in changes if r.values["effective_date"] <= today]
            if current:
                in_force[number] = max(current, key=lambda r: r.values["effective_date"])
        if "manager" in sheet.present:
            managers = {r.number: self.record_of(r, employees, departments)["manager_id"] for r in in_force.values()}
            moved = [
                r
                for r in in_force.values()
                if managers[r.number] != employees[fold(r.values["employee_number"])].manager_id
            ]
            self.check_cycles(Employee, "employee_number", "manager", moved, lambda r: managers[r.number])
        self.stored_employee_fields = {
            values["id"]: values
            for values in fetch(
                Employee.objects.values("id", "department_id", "job_title", "manager_id"),
                "id",
                [employees[number].pk for number in by_employee],
            )
        }
        self.note_changes_to_come(by_employee, in_force, employees, departments, today)
        wanted: list[tuple[Row, Assignment]] = []
        people = Step(Employee)
        changed: set[str] = set()
        self.count(Employee)
        stays: dict[int, list[Assignment]] = defaultdict(list)  # each employee's stored home-department stays
        updates: list[tuple[Employee, Row, str | Assignment]] = []  # the rows of today, and what they do (moves)
        if role.pk is not None:
            for stay in fetch(
                Assignment.objects.filter(role=role, department__isnull=False).select_related("department"),
                "employee_id",
                [employees[number].pk for number in by_employee],
            ):
                stays[stay.employee_id].append(stay)
        for number, changes in by_employee.items():
            employee = employees[number]
            changes.sort(key=lambda r: r.values["effective_date"])
            timeline = self.home_timeline(
                employee, changes, stays[employee.pk], departments, complete=number not in left_out
            )
            for r, stay, start, end in timeline:
                if stay is None:
                    department = departments[fold(r.values["department"])]
                    wanted.append(
                        (
                            r,
                            Assignment(
                                employee=employee,
                                role=role,
                                department=department,
                                level=role.default_level,
                                start_date=start,
                                end_date=end,
                            ),
                        )
                    )
                elif end != stay.end_date:  # a stored stay the file's next move ends
                    wanted.append(
                        (
                            r,
                            Assignment(
                                employee=employee,
                                role=role,
                                department=stay.department,
                                level=stay.level,
                                start_date=start,
                                end_date=end,
                            ),
                        )
                    )
            # A stored move in force today, later than the file's row for today, keeps the employee where it put them.
            stored_move = max((start for _, stay, start, _ in timeline if stay and start <= today), default=None)
            if number in in_force and not (stored_move and stored_move > in_force[number].values["effective_date"]):
                row = in_force[number]
                move = self.moves(employee, departments[fold(row.values["department"])], row, stays[employee.pk])
                updates.append((employee, row, move))
        # A planned move whose day has come, unless the employee has been in its department since that day and
        # moved on: the stay restated is then long under way, and the employee's department of today stands.
        been = self.been_in_since([move for _, _, move in updates if isinstance(move, Assignment)])
        for employee, row, move in updates:
            if isinstance(move, Assignment):
                move = SUPERSEDED if move.pk in been else MOVE
            self.plan_employee_update(employee, row, employees, departments, people, changed, move=move)
        fields_changed = sorted(changed)
        if role_step:
            self.steps.append(role_step)
        history_columns = {"start_date": "effective_date", "end_date": "effective_date"}
        self.plan_assignments(wanted, ["end_date"], {**history_columns, "__all__": "department", "role": "department"})
        if people.updates:
            people.update_fields = fields_changed
            # Employees were loaded with only a few fields: complete them before writing their history.
            full = {e.pk: e for e in fetch(Employee.objects.all(), "id", [e.pk for e in people.updates])}
            for e in people.updates:
                for name in fields_changed:
                    setattr(full[e.pk], name, getattr(e, name))
            people.updates = [full[e.pk] for e in people.updates]
            self.steps.insert(0, people)

    def note_changes_to_come(
        self,
        by_employee: dict[str, list[Row]],
        in_force: dict[str, Row],
        employees: dict[str, Employee],
        departments: dict[str, Department],
        today: datetime.date,
    ) -> None:
        """ProjMan keeps an employee's department, title and manager of today: a row dated later that changes one
        is planned as a stay, but the record takes it only from a file imported on or after its day. Say so."""
        to_come: list[datetime.date] = []
        for number, changes in by_employee.items():
            then = dict(self.stored_employee_fields[employees[number].pk])
            if now := in_force.get(number):
                then.update(self.record_of(now, employees, departments))
            for r in sorted(changes, key=lambda r: r.values["effective_date"]):
                if r.values["effective_date"] <= today:
                    continue
                later = self.record_of(r, employees, departments)
                if any(not unchanged(value, then[name]) for name, value in later.items()):
                    to_come.append(r.values["effective_date"])
                then.update(later)
        if to_come:
            note = ngettext(
                "%(count)d row dated after today changes an employee's department, job title or manager: ProjMan"
                " keeps those of today, so the employee's record takes it when a file holding the row is imported"
                " on or after its day (the first is %(date)s); a move is planned as its stay already.",
                "%(count)d rows dated after today change an employee's department, job title or manager: ProjMan"
                " keeps those of today, so the employee's record takes each when a file holding the row is imported"
                " on or after its day (the first is %(date)s); a move is planned as its stay already.",
                len(to_come),
            )
            self.report.notes.append(note % {"count": len(to_come), "date": min(to_come)})

    def lock_history(self, role: Role, departments: Iterable[Department], employees: list[Employee]) -> None:
        """Before the file's rows are checked against leave dates and stored stays: lock every department the
        import may write a stay on (the file's, and those of the employees' stored stays, which a move may end),
        then the employees (``lock_employees``), as ``plan_assignments`` would, but early enough for those checks."""
        department_ids = {d.pk for d in departments}
        if role.pk is not None:
            stays = Assignment.objects.filter(role=role, department__isnull=False).values_list("department_id")
            department_ids.update(d for (d,) in fetch(stays, "employee_id", {e.pk for e in employees}))
        self.lock_departments(department_ids)
        self.lock_employees(employees)

    def moves(self, employee: Employee, department: Department, row: Row, stays: list[Assignment]) -> str | Assignment:
        """What the row in force today does to the employee's record: MOVE them into its department (and set
        title and manager), or set the title and manager IN_PLACE. A row restating a stored stay moves them only
        while they are still where the stay before it put them (a move planned for a date that has come); one
        moved elsewhere since, by an employees file or in the admin, stays there, and the row is SUPERSEDED,
        title and manager too, as an exported history imported again must leave them. Still there, or back there:
        the stay restated, for ``been_in_since`` to tell."""
        date = row.values["effective_date"]
        restated = next((s for s in stays if s.department_id == department.pk and s.start_date == date), None)
        now = self.stored_employee_fields[employee.pk]["department_id"]
        if restated is None or now is None:
            return MOVE
        if now == department.pk:
            return IN_PLACE
        before = max((s for s in stays if s.start_date < date), key=lambda s: s.start_date, default=None)
        return restated if before is not None and now == before.department_id else SUPERSEDED

    def been_in_since(self, stays: list[Assignment]) -> set[int]:
        """The stays whose employee's record has been in the stay's department since its first day (the audit
        trail says): moved there once and back since, not waiting for a planned move."""
        wanted = {stay.employee_id: stay for stay in stays}
        records = Employee.history.filter(department_id__in={stay.department_id for stay in stays})
        return {
            wanted[employee_id].pk
            for employee_id, department_id, when in fetch(
                records.values_list("id", "department_id", "history_date"), "id", list(wanted)
            )
            if department_id == wanted[employee_id].department_id
            and timezone.localdate(when) >= wanted[employee_id].start_date
        }

    def home_timeline(
        self,
        employee: Employee,
        changes: list[Row],
        stays: list[Assignment],
        departments: dict[str, Department],
        *,
        complete: bool,
    ) -> list[tuple[Row | None, Assignment | None, datetime.date, datetime.date | None]]:
        """An employee's home-department stays as the file's rows (in date order) and the stored stays they do not
        restate make them: each lasts until the next move, the last until the leave date. A row in the department
        the employee is already in is a new title or manager, not a move. Items are (row, stored stay or None, start,
        end); a stored stay carries the row whose move ends it, or None when the file leaves it as it is.
        ``complete``: every row of the employee's in the file is among ``changes`` (none refused), so that a stored
        stay between two of them can be said to contradict the file (``check_not_contradicted``)."""
        sheet = self.sheet
        department_of = {id(r): departments[fold(r.values["department"])].pk for r in changes}
        restated = {(department_of[id(r)], r.values["effective_date"]) for r in changes}
        stored_ends = {(stay.department_id, stay.start_date): stay.end_date for stay in stays}
        # A row that restates a stored stay keeps it a stay of its own, even in the department before it: merged
        # into the stay before as a new title, it would leave the stored one open beside it. It keeps the stay's
        # end too, unless a later move ends it sooner: a file has no end dates, and an exported history imported
        # again must not reopen a stay ended in the admin.
        restating = {
            id(r): stored_ends[key]
            for r in changes
            if (key := (department_of[id(r)], r.values["effective_date"])) in stored_ends
        }
        file_dates = {r.values["effective_date"]: r for r in changes}
        items: list[tuple[datetime.date, int, Row | Assignment]] = [
            (r.values["effective_date"], department_of[id(r)], r) for r in changes
        ]
        for stay in stays:
            if (stay.department_id, stay.start_date) in restated:
                continue
            if (r := file_dates.get(stay.start_date)) is not None:
                sheet.at(
                    r,
                    "department",
                    gettext(
                        "%(employee)s is stored as moving to %(stored)s on %(date)s, not to %(department)s; correct "
                        "one of them (the stored stay in the admin)."
                    )
                    % {
                        "employee": employee,
                        "stored": stay.department.code,
                        "date": stay.start_date,
                        "department": r.values["department"],
                    },
                )
                continue
            if complete:
                self.check_not_contradicted(employee, stay, changes, list(file_dates), department_of)
            items.append((stay.start_date, stay.department_id, stay))
        items.sort(key=lambda item: item[0])
        timeline: list[list[Any]] = []  # [row, stay, start, end, department]
        for start, department, item in items:
            stay = item if isinstance(item, Assignment) else None
            row = None if stay else item
            if timeline:
                previous = timeline[-1]
                ongoing = previous[3] is None or previous[3] >= start - ONE_DAY
                if row is not None and department == previous[4] and ongoing and id(row) not in restating:
                    continue  # same department: a new title or manager, not a move
                # A move ends the stay before it; two stored stays are left as they are.
                if (previous[3] is None or previous[3] >= start) and (row is not None or previous[1] is None):
                    previous[3] = start - ONE_DAY
                    if previous[1] is not None:
                        previous[0] = row  # the row whose move ends the stored stay
            end = stay.end_date if stay else restating.get(id(row))
            timeline.append([row, stay, start, end, department])
        last = timeline[-1]
        if employee.leave_date is not None and last[1] is None and (last[3] is None or last[3] > employee.leave_date):
            last[3] = employee.leave_date  # a stored end before it stands
        return [(row, stay, start, end) for row, stay, start, end, _ in timeline]

    def check_not_contradicted(
        self,
        employee: Employee,
        stay: Assignment,
        changes: list[Row],
        dates: list[datetime.date],
        department_of: dict[int, int],
    ) -> None:
        """A stored stay the file does not restate must not start inside a period the file bounds (between two of
        its rows) in another department, where the file says the employee was elsewhere. It may be a move whose
        date HR corrected since (the row that follows names the stay's department on another day), or one recorded
        only in ProjMan; either way the file cannot be taken as it is, nor the stored stay left to contradict it.
        Said on the row concerned. ``dates`` are those of ``changes``, in order."""
        at = bisect.bisect_left(dates, stay.start_date)
        if at == 0 or at == len(changes):
            return  # before the file's first row, or after its last: the file says nothing of that time
        before, after = changes[at - 1], changes[at]
        if department_of[id(before)] == stay.department_id:
            return  # a stay of its own within the file's stay in the same department
        if department_of[id(after)] == stay.department_id:
            message = gettext(
                "%(employee)s is stored as moving to %(department)s on %(stored)s, not on %(date)s; correct one of"
                " them (the stored stay in the admin)."
            )
            self.sheet.at(
                after,
                "effective_date",
                message
                % {
                    "employee": employee,
                    "department": stay.department.code,
                    "stored": stay.start_date,
                    "date": after.values["effective_date"],
                },
            )
        else:
            message = gettext(
                "%(employee)s is stored as moving to %(stored)s on %(date)s, while by this row they are in"
                " %(department)s until %(until)s (row %(row)d); correct one of them (the stored stay in the admin)."
            )
            self.sheet.at(
                before,
                "department",
                message
                % {
                    "employee": employee,
                    "stored": stay.department.code,
                    "date": stay.start_date,
                    "department": before.values["department"],
                    "until": after.values["effective_date"],
                    "row": after.number,
                },
            )

    def record_of(self, row: Row, employees: dict[str, Employee], departments: dict[str, Department]) -> dict:
        """What a job-history row sets on its employee's record: department, and title and manager where the file
        has those columns (as attnames, to compare with ``stored_employee_fields``)."""
        v = row.values
        record: dict[str, Any] = {"department_id": departments[fold(v["department"])].pk}
        if "job_title" in self.sheet.present:
            record["job_title"] = v["job_title"]
        if "manager" in self.sheet.present:
            record["manager_id"] = employees[fold(v["manager"])].pk if v.get("manager") else None
        return record

    def plan_employee_update(
        self,
        employee: Employee,
        row: Row,
        employees: dict[str, Employee],
        departments: dict[str, Department],
        people: Step,
        changed: set[str],
        *,
        move: str,
    ) -> None:
        wanted = {} if move == SUPERSEDED else self.record_of(row, employees, departments)
        if move != MOVE:
            wanted.pop("department_id", None)
        stored = self.stored_employee_fields[employee.pk]
        differs = [name for name, value in wanted.items() if not unchanged(value, stored[name])]
        if not differs:
            self.count(Employee).unchanged += 1
            return
        for name in differs:
            setattr(employee, name, wanted[name])
        changed.update(n.removesuffix("_id") for n in differs)
        people.updates.append(employee)
        self.count(Employee).updated += 1


# --- Phase two: one transaction --------------------------------------------------------------------------------


def write(steps: list[Step], *, user: Any = None, reason: str = "", progress: Progress | None = None) -> None:
    when = timezone.now()
    total = sum(len(level) for s in steps for level in s.levels) + sum(len(s.updates) for s in steps)
    done = 0
    if progress and total:
        progress("writing", 0, total)

    def stored(step: Step, objs: Sequence[Any]) -> Callable[[list[int]], None]:
        def record(ids: list[int]) -> None:
            nonlocal done
            if step.key:
                keys = (obj[step.key] if isinstance(obj, dict) else getattr(obj, step.key) for obj in objs)
                step.created.update(zip((fold(k) for k in keys), ids, strict=True))
            done += len(objs)
            if progress:
                progress("writing", done, total)

        return record

    for step in steps:
        for part in chunks(step.release_emails):  # no history record: the placeholder never outlives the import
            placeholder = Concat(Value("import-"), Cast("pk", models.CharField()), Value("@moving.invalid"))
            step.model._default_manager.filter(pk__in=part).update(work_email=placeholder)
        with BatchWriter(user=user, reason=reason, when=when) as writer:
            for level in step.levels:
                for part in chunks(level):
                    objs = [step.make(item) for item in part] if step.make else part
                    writer.insert(step.model, objs, stored(step, objs))
                writer.flush()  # the next level points to rows of this one: their ids must be known
        if step.updates:
            attnames = [step.model._meta.get_field(name).attname for name in step.update_fields]
            for obj in step.updates:
                for attname in attnames:
                    setattr(obj, attname, step.resolve(getattr(obj, attname)))
            for obj in step.updates:  # a row's own reason (``check_employees``) names the import too
                if own := getattr(obj, "_change_reason", None):
                    obj._change_reason = f"{own} ({reason})"[:REASON_LENGTH]
            for part in chunks(step.updates):
                bulk_update_with_history(
                    list(part),
                    step.model,
                    step.update_fields,
                    batch_size=BATCH_SIZE,
                    default_user=user,
                    default_change_reason=reason,
                    default_date=when,
                )
                done += len(part)
                if progress:
                    progress("writing", done, total)


def fingerprint(steps: list[Step]) -> str:
    """What ``write`` would do, as a digest: the same file planned against the same data gives the same one, in
    any process (the admin's preview and its confirmation may run on two app servers), and any other change to be
    written gives another. Rows in any order: only what is written counts, and what an update overwrites (read
    from the database: a field edited meanwhile that the file sets too is then seen)."""
    digest = hashlib.sha256()
    for step in steps:
        model = step.model
        names = concrete_attnames(model)
        changed = [model._meta.get_field(name).attname for name in step.update_fields]
        inserts = sorted(
            repr(sorted(item.values.items()) if isinstance(item, Row) else [getattr(item, n) for n in names])
            for level in step.levels
            for item in level
        )
        overwritten = {
            values[0]: values[1:]
            for values in fetch(model._default_manager.values_list("pk", *changed), "pk", [o.pk for o in step.updates])
        }
        updates = sorted(
            repr((obj.pk, [getattr(obj, n) for n in changed], overwritten.get(obj.pk))) for obj in step.updates
        )
        plan = (model._meta.label, len(step.levels), step.update_fields, inserts, updates, sorted(step.release_emails))
        digest.update(repr(plan).encode())
    return digest.hexdigest()


def run_import(
    kind: str,
    data: bytes,
    *,
    filename: str = "",
    format: str | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
    user: Any = None,
    member_role: str = MEMBER_ROLE,
    progress: Progress | None = None,
    fingerprint_plan: bool = False,
    expect: str | None = None,
) -> Report:
    """Import ``data`` (the bytes of a CSV or XLSX file) as rows of ``kind``; see the module docstring.

    ``fingerprint_plan`` puts the ``fingerprint`` of the planned writes in ``report.plan``; given the one a dry run
    made (``expect``), the import writes only if it would write exactly that, and is otherwise ``stale``: the
    database changed in between, so that the file now does something its preview did not show."""
    report = Report(kind=kind, filename=filename, dry_run=dry_run)
    if kind not in KINDS:
        message = gettext("Unknown kind %(kind)s; expected one of %(kinds)s.")
        report.problems.append(Problem(None, None, message % {"kind": repr(kind), "kinds": ", ".join(KINDS)}))
        return report
    try:
        table = read_table(data, filename=filename, encoding=encoding)
    except FileProblem as exc:
        report.problems.append(Problem(exc.row, exc.column, exc.message))
        return report
    report.encoding, report.delimiter = table.encoding, table.delimiter
    chosen = format or recognise_format(kind, table.header)
    if (kind, chosen) not in COLUMNS:
        expected = ", ".join(formats_for(kind))
        message = gettext("The %(format)s format has no %(kind)s; for %(kind)s use: %(formats)s.")
        report.problems.append(
            Problem(None, None, message % {"format": repr(chosen), "kind": kind, "formats": expected})
        )
        report.rows = count_rows(table, report)
        return report
    report.format = chosen
    own = {n for c in COLUMNS[(kind, chosen)] for n in c.names}
    elsewhere = {  # the header names of the kind's other formats, to say which to choose
        name: fmt
        for (k, fmt), columns in COLUMNS.items()
        if k == kind and fmt != chosen
        for name in (*(n for c in columns for n in c.names), *IGNORED.get((k, fmt), ()))
        if name not in own
    }
    sheet = Sheet(table, COLUMNS[(kind, chosen)], IGNORED.get((kind, chosen), ()), report, progress, elsewhere)
    report.rows = sheet.count
    reason = f"import_org {kind}" + (f" {filename}" if filename else "")
    try:
        with transaction.atomic():
            steps = Planner(kind, sheet, report, member_role=member_role).plan()
            report.problems.sort(key=lambda p: (p.row or 0, p.column or ""))
            if report.problems:
                return report
            if fingerprint_plan or expect is not None:
                report.plan = fingerprint(steps)
            if expect is not None and report.plan != expect:
                report.stale = report.dry_run = True
            if report.dry_run:
                return report
            write(steps, user=user, reason=reason[:REASON_LENGTH], progress=progress)
            report.written = True
    except (IntegrityError, DatabaseError) as exc:
        # A rule only the database knew about (or a concurrent writer): nothing of this import stays.
        report.written = False
        message = gettext("The database refused the import, so nothing was written: %(error)s")
        report.problems.append(Problem(None, None, message % {"error": exc}))
    return report

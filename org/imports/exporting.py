"""Exports: the rows of one kind in the columns the importer reads, so that export then import changes nothing.

Cells that a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a carriage return) get a leading
apostrophe; the importer drops it again. Text holding what a file format cannot keep as it is (a lone carriage
return in CSV, control characters in XLSX) is quoted or escaped so that it comes back the same.
"""

from __future__ import annotations

import csv
import datetime
import io
import itertools
import re
from collections.abc import Iterator
from typing import IO, Any

from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from org.imports.engine import MEMBER_ROLE, formats_for, history_role
from org.imports.fields import FORMULA_STARTS
from org.models import Assignment, Department, Employee, Project, Role

HEADERS: dict[tuple[str, str], list[str]] = {
    ("departments", "projman"): ["code", "name", "parent", "active"],
    ("employees", "projman"): [
        "employee_number",
        "first_name",
        "last_name",
        "work_email",
        "job_title",
        "department",
        "manager",
        "hire_date",
        "leave_date",
    ],
    ("employees", "orangehrm"): [
        "first_name",
        "middle_name",
        "last_name",
        "employee_id",
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
        "work_email",
        "other_email",
    ],
    ("projects", "projman"): ["code", "name", "description", "department", "status", "start_date", "end_date"],
    ("roles", "projman"): ["name", "description", "applies_to", "default_level", "single_holder"],
    ("assignments", "projman"): [
        "employee",
        "role",
        "department",
        "project",
        "level",
        "start_date",
        "end_date",
        "allocation",
        "note",
    ],
    ("history", "projman"): ["employee_number", "effective_date", "department", "job_title", "manager"],
    ("history", "jobhistory"): ["Employee ID", "Effective Date", "Department", "Job Title", "Manager ID"],
}


ESCAPED_STARTS = tuple(f"'{c}" for c in (*FORMULA_STARTS, "'"))


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet would evaluate, made plain text with a leading apostrophe; and text that
    already starts with an apostrophe before such a character (or before another apostrophe) gets one more, since
    the importer drops one."""
    if isinstance(value, str) and (value.startswith(FORMULA_STARTS) or value.startswith(ESCAPED_STARTS)):
        return "'" + value
    return value


# XML keeps no carriage return (a reader turns CR LF into LF) and no control character: a workbook spells them
# _xHHHH_ as Excel does, and spells a text that looks like such an escape with its underscore escaped (_x005F_).
XLSX_UNSAFE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)|[\x00-\x08\x0b-\x1f\ufffe\uffff]")


ERRORS = frozenset(ERROR_CODES)  # text openpyxl would write as an error cell (#N/A), which imports refuse


def xlsx_text(value: Any) -> Any:
    return XLSX_UNSAFE.sub(lambda m: f"_x{ord(m[0]):04X}_", value) if isinstance(value, str) else value


def xlsx_cell(sheet: Any, value: Any) -> Any:
    """``value`` as a cell of a write-only ``sheet``: escaped, and text spelling an error kept as text."""
    value = xlsx_text(value)
    if isinstance(value, str) and value in ERRORS:
        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"
        return cell
    return value


SHEET_TITLE_UNSAFE = re.compile(r"[\\/*?:\[\]]")
WIDEST_COLUMN = 80  # characters: a long note does not make its column wider than a screen


def xlsx_table(title: str, header: list[Any], rows: list[list[Any]]) -> bytes:
    """A workbook of one sheet ``title``: ``header`` in bold and frozen above ``rows``, each column as wide as its
    widest cell. Cells go through ``xlsx_cell``: a text spelling an error (``#N/A``) stays text, where openpyxl,
    and so tablib, would write an error cell. Formula-looking text must be neutralised by the caller."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE_UNSAFE.sub("-", title)[:31] or "Sheet")
    sheet.freeze_panes = "A2"
    widths = [len(str(v)) for v in header]
    for row in rows:
        widths[: len(row)] = [max(w, len(str(v))) for w, v in zip(widths, row, strict=False)]
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = min(width + 2, WIDEST_COLUMN)
    bold = Font(bold=True)
    titles = []
    for value in header:
        cell = WriteOnlyCell(sheet, xlsx_text(value))
        cell.data_type, cell.font = "s", bold
        titles.append(cell)
    sheet.append(titles)
    for row in rows:
        sheet.append([xlsx_cell(sheet, v) for v in row])
    saved = io.BytesIO()
    workbook.save(saved)
    return saved.getvalue()


def _rows(kind: str, fmt: str, member_role: str) -> Iterator[tuple]:
    chunk = 2000
    if kind == "departments":
        qs: QuerySet = Department.objects.order_by("code").values_list("code", "name", "parent__code", "active")
        for code, name, parent, active in qs.iterator(chunk):
            yield code, name, parent, "true" if active else "false"
    elif kind == "employees":
        qs = Employee.objects.order_by("employee_number")
        if fmt == "orangehrm":
            blank = [""] * 16
            for first, last, number, email in qs.values_list(
                "first_name", "last_name", "employee_number", "work_email"
            ).iterator(chunk):
                yield first, "", last, number, *blank, email, ""
        else:
            yield from qs.values_list(
                "employee_number",
                "first_name",
                "last_name",
                "work_email",
                "job_title",
                "department__code",
                "manager__employee_number",
                "hire_date",
                "leave_date",
            ).iterator(chunk)
    elif kind == "projects":
        yield from (
            Project.objects.order_by("code")
            .values_list("code", "name", "description", "department__code", "status", "start_date", "end_date")
            .iterator(chunk)
        )
    elif kind == "roles":
        qs = Role.objects.order_by("name")
        for *values, single in qs.values_list("name", "description", "applies_to", "default_level", "single_holder"):
            yield *values, "true" if single else "false"
    elif kind == "assignments":
        yield from (
            Assignment.objects.order_by("employee__employee_number", "role__name", "start_date", "id")
            .values_list(
                "employee__employee_number",
                "role__name",
                "department__code",
                "project__code",
                "level",
                "start_date",
                "end_date",
                "allocation",
                "note",
            )
            .iterator(chunk)
        )
    elif kind == "history":
        # ProjMan keeps an employee's title and manager of today, not those of past stays: past stays leave them
        # empty rather than show today's.
        today = timezone.localdate()
        if (role := history_role(member_role)) is None:
            return
        stays = (
            Assignment.objects.filter(role=role, department__isnull=False)
            .order_by("employee__employee_number", "start_date")
            .values_list(
                "employee__employee_number",
                "start_date",
                "department__code",
                "employee__job_title",
                "employee__manager__employee_number",
            )
        )
        for _, rows in itertools.groupby(stays.iterator(chunk), key=lambda row: row[0]):
            rows = list(rows)
            # The row an import takes for today (the latest begun) and the later ones, which it will take when
            # their day comes: an empty title there would clear today's then.
            first = max((i for i, row in enumerate(rows) if row[1] <= today), default=0)
            for i, row in enumerate(rows):
                yield row if i >= first else (*row[:3], "", "")


def export_rows(
    kind: str, fmt: str = "projman", *, member_role: str = MEMBER_ROLE
) -> tuple[list[str], Iterator[list[Any]]]:
    """The header and the rows of ``kind``; job history is the stays in the role ``member_role``."""
    if (kind, fmt) not in HEADERS:
        raise ValueError(f"No {fmt!r} export for {kind}; use one of: {', '.join(formats_for(kind))}.")

    def cells() -> Iterator[list[Any]]:
        for row in _rows(kind, fmt, member_role):
            yield [neutralise("" if v is None else v) for v in row]

    return HEADERS[(kind, fmt)], cells()


def write_csv(kind: str, stream: IO[str], fmt: str = "projman", *, member_role: str = MEMBER_ROLE) -> int:
    header, rows = export_rows(kind, fmt, member_role=member_role)
    writer = csv.writer(stream, lineterminator="\r\n")  # RFC 4180; with \r in it, a cell holding one is quoted
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([v.isoformat() if isinstance(v, datetime.date) else v for v in row])
        count += 1
    return count


def write_xlsx(kind: str, stream: IO[bytes], fmt: str = "projman", *, member_role: str = MEMBER_ROLE) -> int:
    header, rows = export_rows(kind, fmt, member_role=member_role)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(kind)
    sheet.append(header)
    count = 0
    for row in rows:
        sheet.append([xlsx_cell(sheet, v) for v in row])
        count += 1
    workbook.save(stream)
    return count


def write_export(
    kind: str, stream: IO[Any], fmt: str = "projman", *, xlsx: bool = False, member_role: str = MEMBER_ROLE
) -> int:
    """Write the rows of ``kind`` to ``stream`` (text for CSV, bytes for XLSX); returns how many."""
    write = write_xlsx if xlsx else write_csv
    return write(kind, stream, fmt, member_role=member_role)

"""Reading an uploaded file into rows of text, whatever its format, encoding and delimiter.

Nothing here knows about departments or employees: a file becomes a header and rows of strings, each row carrying
the number a spreadsheet would show for it (the header is row 1). Problems that stop the file being read at all are
raised as ``FileProblem`` with the row and column where they were found.
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
import operator
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext
from openpyxl import load_workbook
from openpyxl.cell.read_only import ReadOnlyCell
from openpyxl.utils import coordinate_to_tuple, get_column_letter
from openpyxl.xml.functions import iterparse

from org.models import LONG_TEXT_LENGTH

MAX_FIELD = LONG_TEXT_LENGTH  # characters; no column of ours holds more, so a longer cell is a broken file
XLSX_MAGIC = b"PK\x03\x04"
XLSX_UNPACKED_BYTES = 256 * 2**20  # a zip bomb stops here; a workbook of 100,000 employees unpacks to about 20 MB
XLSX_COLUMNS = 256  # up to column IV: no format of ours comes near, and cells further right are not read


class FileProblem(Exception):
    def __init__(self, message: str, row: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.message, self.row, self.column = message, row, column


@dataclass
class Table:
    header: list[str]
    # (row number as a spreadsheet shows it, cells), read once; a CSV is parsed as it is read, so its rows are
    # never all in memory as text, and a syntax error further down raises FileProblem while iterating.
    rows: Iterable[tuple[int, list[str]]]
    estimated_rows: int  # for progress: the line count of a CSV (a cell may span lines), exact for XLSX
    encoding: str | None  # None for XLSX
    delimiter: str | None
    header_row: int = 1  # an XLSX sheet may leave rows blank above its header
    # Cells whose text is not what the file holds, by (row number, column index): a workbook's error values and
    # formulas with no saved result. Each is a problem when its column is read.
    unreadable: dict[tuple[int, int], str] = field(default_factory=dict)


def normalise_header(name: str) -> str:
    """'Employee Number', ' employee-number ' and 'EMPLOYEE_NUMBER' all become 'employee_number'."""
    return re.sub(r"[\s_\-]+", "_", name.replace("\ufeff", "").strip().lower()).strip("_")


def column_label(index: int, header: list[str]) -> str:
    """How an error names column ``index`` (0-based): its letter and, when it has one, its header."""
    letter = get_column_letter(index + 1)
    name = header[index] if index < len(header) and header[index] else ""
    return f"{letter} ({name})" if name else letter


def read_table(data: bytes, *, filename: str = "", encoding: str | None = None) -> Table:
    if not data.strip():
        raise FileProblem(gettext("The file is empty; expected a header row and at least one data row."), row=1)
    if data.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx"):
        return _read_xlsx(data)
    return _read_csv(data, encoding)


def decode(data: bytes, encoding: str | None) -> tuple[str, str]:
    """The text and the encoding used: the one asked for, else UTF-8 (with or without BOM), UTF-16 with a BOM,
    else Windows-1252, else Latin-1 (which decodes anything)."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise FileProblem(
                gettext("Unknown encoding %(encoding)s; try utf-8, cp1252 or latin-1.") % {"encoding": repr(encoding)}
            ) from None
        except UnicodeDecodeError as exc:
            raise _decode_problem(data, exc, encoding) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise _decode_problem(data, exc, "utf-16") from None
    try:
        return data.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError as exc:
        if _mostly_utf8(data):
            raise _decode_problem(data, exc, "utf-8", mixed=True) from None
    for candidate in ("cp1252", "latin-1"):
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


ASCII = bytes(range(0x80))
UTF8_CHARACTER = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _mostly_utf8(data: bytes) -> bool:
    """Whether most of the non-ASCII bytes of ``data`` (which is not valid UTF-8) form UTF-8 characters: a UTF-8
    file with a stray byte or line from elsewhere, which read as Windows-1252 would turn every accent into mojibake.
    A real Windows-1252 file seldom has even one such pair (``Ã©``)."""
    in_characters = sum(len(m) for m in UTF8_CHARACTER.findall(data))
    high = len(data.translate(None, ASCII))  # the non-ASCII bytes, counted without a Python loop over the file
    return in_characters > high - in_characters


def _decode_problem(data: bytes, exc: UnicodeDecodeError, encoding: str, *, mixed: bool = False) -> FileProblem:
    before = data[: exc.start]
    line_start = before.rfind(b"\n") + 1
    row = before.count(b"\n") + 1
    line = before[line_start:]
    delimiter = b";" if line.count(b";") > line.count(b",") else b","
    column = get_column_letter(line.count(delimiter) + 1)
    if mixed:
        message = gettext(
            "Byte 0x%(byte)02x is not valid %(encoding)s; the rest of the file is UTF-8, so it mixes encodings; "
            "choose the file's encoding (--encoding, or Encoding in the admin), e.g. cp1252 or latin-1, or save it "
            "as UTF-8."
        )
    else:
        message = gettext(
            "Byte 0x%(byte)02x is not valid %(encoding)s; choose the file's encoding (--encoding, or Encoding in the "
            "admin), e.g. cp1252 or latin-1, or save it as UTF-8."
        )
    return FileProblem(message % {"byte": data[exc.start], "encoding": encoding}, row=row, column=column)


def unreadable_csv(exc: csv.Error) -> str:
    return gettext("The CSV cannot be read here: %(error)s.") % {"error": exc}


def _read_csv(data: bytes, encoding: str | None) -> Table:
    text, used = decode(data, encoding)
    if "\x00" in text:
        if data.count(0) * 3 > len(data):  # every other byte of ASCII text in UTF-16 is NUL
            message = gettext(
                "The file contains NUL bytes: it is not a CSV text file (nor an XLSX workbook); if it is UTF-16 "
                "without a byte order mark, choose UTF-16 as its encoding."
            )
        else:
            message = gettext("The file contains NUL bytes: it is not a CSV text file (nor an XLSX workbook).")
        raise FileProblem(message, row=1)
    text = text.lstrip("\ufeff")
    first_line = next((line for line in _lines(text) if line.strip()), "")
    delimiter = max((";", ",", "\t"), key=first_line.count) if any(d in first_line for d in ";,\t") else ","
    reader = csv.reader(_lines(text), delimiter=delimiter, strict=True)
    header_row = 0
    try:
        for header in reader:  # blank lines above the header are skipped, as in a workbook
            header_row += 1
            if any(h.strip() for h in header):
                break
        else:
            raise FileProblem(gettext("The file has no header row; expected the column names on row 1."), row=1)
    except csv.Error as exc:
        raise FileProblem(unreadable_csv(exc), row=header_row + 1) from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        # Numbered as a spreadsheet shows them: a cell spanning lines is one row, a blank line is a row too.
        number = header_row
        try:
            for cells in reader:
                number += 1
                if "".join(cells).strip():  # blank lines hold no data
                    yield number, cells
        except csv.Error as exc:
            raise FileProblem(unreadable_csv(exc), row=number + 1) from None

    newline = "\n" if "\n" in text else "\r"
    return Table(header, rows(), text.count(newline), used, delimiter, header_row)


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their endings (LF, CRLF, or old Mac CR), without copying it whole."""
    newline = "\n" if "\n" in text else "\r"
    start = 0
    while start < len(text):
        end = text.find(newline, start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


XLSX_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
NUMBERS = (int, float)  # cells whose format may matter (a percentage); bool is not among them
DATA_TYPE = operator.attrgetter("data_type")


@functools.lru_cache(maxsize=64)
def _percent(number_format: str) -> bool:
    """Whether a number format scales by 100: a % outside quotes and not escaped (0"%" and 0\\% only show one)."""
    return "%" in re.sub(r'"[^"]*"|\\.', "", number_format)


def _cell_text(value: object, number_format: str | None = None) -> str:
    if value is None:
        return ""
    if number_format and "%" in number_format and _percent(number_format):  # a number shown as 50% is stored as 0.5
        return f"{round(value * 100, 10):g}%"
    if isinstance(value, str):  # Excel spells a carriage return or control character _xHHHH_, and _ as _x005F_
        return XLSX_ESCAPE.sub(lambda m: chr(int(m[1], 16)), value) if "_x" in value else value
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(data: bytes) -> Table:
    # openpyxl raises whatever its XML and zip parsers do on a damaged file (ParseError, TypeError, …): any error
    # while reading is the file's, and is told as such.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())  # a member reads no more than this
        if unpacked > XLSX_UNPACKED_BYTES:
            raise FileProblem(
                gettext(
                    "The workbook unpacks to %(size)d MB; at most %(limit)d MB are read. Save it as CSV, or split it."
                )
                % {"size": unpacked // 2**20, "limit": XLSX_UNPACKED_BYTES // 2**20},
                row=1,
            )
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except FileProblem:
        raise
    except Exception as exc:
        raise FileProblem(
            gettext(
                "The file is not a readable XLSX workbook (%(error)s); save it again from the spreadsheet program, or "
                "as CSV."
            )
            % {"error": exc},
            row=1,
        ) from None
    try:
        sheet = workbook.worksheets[0]
        # The size a sheet declares is not trusted: spreadsheet programs ignore it, it may be narrower than the
        # data, and openpyxl pads every row to its width and fills every gap up to its last row, which a few
        # kilobytes can make billions of cells. Rows come as stored, each cut after its last stored cell, and
        # cells right of column IV are not read.
        sheet.reset_dimensions()
        lines: Iterator[tuple] = sheet.iter_rows(max_col=XLSX_COLUMNS)
        header: list[str] | None = None
        header_row = 1
        rows: list[tuple[int, list[str]]] = []
        gap = None  # openpyxl fills each gap between stored rows with one and the same tuple: skipped at once
        unreadable = {
            cell: gettext(
                "The cell holds a formula whose result is not saved in the file (a program wrote it, no spreadsheet "
                "calculated it); open the file in a spreadsheet program and save it, or replace the formula by its "
                "value."
            )
            for cell in _uncalculated(workbook._archive, sheet._worksheet_path)  # openpyxl's own, as it reads them
        }
        for number, values in enumerate(lines, start=1):
            if values is gap:
                continue
            # openpyxl pads with EMPTY_CELL (no stored cell) after the stored cells (ReadOnlyCell): told apart by
            # type, at C speed.
            kinds = list(map(type, values))
            if ReadOnlyCell not in kinds:
                gap = values
                continue
            stored = len(kinds) - kinds[::-1].index(ReadOnlyCell)
            cells = [
                _cell_text(c.value, c.number_format if type(c.value) in NUMBERS else None) for c in values[:stored]
            ]
            if "e" in map(DATA_TYPE, values[:stored]):  # #N/A, #REF!, …: what a formula shows when it fails
                for i, c in enumerate(values[:stored]):
                    if c.data_type == "e":
                        unreadable[number, i] = gettext(
                            "The cell shows the spreadsheet error %(error)s, not a value; correct its formula."
                        ) % {"error": c.value}
            if header is None:
                if not any(c.strip() for c in cells):
                    continue
                header, header_row = cells, number
                continue
            if any(c.strip() for c in cells):
                rows.append((number, cells))
    except Exception as exc:
        raise FileProblem(
            gettext("The XLSX workbook is damaged (%(error)s); save it again from the spreadsheet program, or as CSV.")
            % {"error": exc}
        ) from None
    finally:
        workbook.close()
    if header is None:
        raise FileProblem(gettext("The workbook's first sheet is empty; expected a header row and data rows."), row=1)
    while header and not header[-1].strip():
        header.pop()
    return Table(header, rows, len(rows), None, None, header_row, unreadable)


FORMULA = re.compile(rb"<(?:\w+:)?f[\s/>]")  # a formula element, with or without a namespace prefix


def _uncalculated(archive: zipfile.ZipFile, path: str) -> list[tuple[int, int]]:
    """The (row number, column index) of the sheet's formulas that have no saved result. Read with ``data_only``,
    as the rows are, such a cell is empty: a column meant to be cleared would be, and nobody would know why. A
    sheet holding no formula at all, as most exports, is only scanned for one."""
    with archive.open(path) as source:
        tail = b""
        while chunk := source.read(2**20):
            if FORMULA.search(tail + chunk):
                break
            tail = chunk[-16:]
        else:
            return []
    found = []
    row = column = 0
    with archive.open(path) as source:
        for event, element in iterparse(source, events=("start", "end")):
            tag = element.tag.rpartition("}")[2]
            if event == "start":
                if tag == "row":
                    row, column = int(element.get("r") or row + 1), 0
                elif tag == "c":
                    row, column = coordinate_to_tuple(element.get("r")) if element.get("r") else (row, column + 1)
                continue
            if tag == "c":
                formula = value = None
                for child in element:
                    name = child.tag.rpartition("}")[2]
                    formula = child if name == "f" else formula
                    value = child if name == "v" else value
                # An empty result is <v/> with t="str" (a formula giving ""); a program that never calculated the
                # formula writes no <v>, or an empty one with no type.
                calculated = value is not None and (value.text or element.get("t") == "str")
                if formula is not None and not calculated and column <= XLSX_COLUMNS:
                    found.append((row, column - 1))
                element.clear()
            elif tag == "row":
                element.clear()
    return found

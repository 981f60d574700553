"""Reading an uploaded file into rows of text, whatever its format, encoding and delimiter.

Nothing here knows about departments or employees: a file becomes a header and rows of strings, each row carrying
the number a spreadsheet would show for it (the header is row 1). Problems that stop the file being read at all are
raised as ``FileProblem`` with the row and column where they were found.
"""

from __future__ import annotations

import bisect
import csv
import datetime
import io
import pyexpat
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS

from org.imports import numfmt
from org.models import LONG_TEXT_LENGTH

MAX_FIELD = LONG_TEXT_LENGTH  # characters; no column of ours holds more, so a longer cell is a broken file
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File: .xls, .doc, old Office
XLSX_MAGIC = b"PK\x03\x04"
XLSX_UNPACKED_BYTES = 256 * 2**20  # a zip bomb stops here; a workbook of 100,000 employees unpacks to about 20 MB
XLSX_COLUMNS = 256  # up to column IV: no format of ours comes near, and cells further right are not read
MERGED_CELLS_PER_ROW = 16  # cells merged down columns, per row of the sheet: more is no sheet of people


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
    # A workbook's cells holding no value to read, by (row number, column index), and why: error values, formulas
    # with no saved result, dates that are none. Each is a problem when its column is read.
    unreadable: dict[tuple[int, int], str] = field(default_factory=dict)


def normalise_header(name: str) -> str:
    """'Employee Number', ' employee-number ' and 'EMPLOYEE_NUMBER' all become 'employee_number'; accents go
    ('Número' is 'numero', 'Nº' is 'no')."""
    name = unicodedata.normalize("NFKD", name.replace("\ufeff", "").strip().lower())
    name = "".join(c for c in name if not unicodedata.combining(c))
    return re.sub(r"[\s_\-]+", "_", name).strip("_")


def column_label(index: int, header: list[str]) -> str:
    """How an error names column ``index`` (0-based): its letter and, when it has one, its header."""
    letter = get_column_letter(index + 1)
    name = header[index] if index < len(header) and header[index] else ""
    return f"{letter} ({name})" if name else letter


def read_table(data: bytes, *, filename: str = "", encoding: str | None = None) -> Table:
    if not data.strip():
        raise FileProblem(gettext("The file is empty; expected a header row and at least one data row."), row=1)
    if data.startswith(OLE2_MAGIC):
        raise FileProblem(
            gettext(
                "The file is an Excel 97-2003 workbook (.xls), another older Office file, or a workbook protected by"
                " a password, which the import does not read; save it without a password as an Excel Workbook"
                " (.xlsx) or as CSV."
            ),
            row=1,
        )
    # A file named .xlsx that holds text is a CSV renamed: read as one (the summary says so), not refused as a
    # damaged workbook.
    if data.startswith(XLSX_MAGIC) or (filename.lower().endswith(".xlsx") and b"\0" in data[:4096]):
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


def _shown(number_format: str) -> str:
    """A number format's codes, without its quoted text, escaped characters and [bracketed] colours or locales."""
    return re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", number_format)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
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
    # openpyxl, zipfile and expat raise whatever they do on a damaged file (ParseError, TypeError, ExpatError, …):
    # any error while reading is the file's, and is told as such. Parts openpyxl parses may hold a DTD: expat
    # expands no external entity, and stops an entity expanding past its limit (there is no defusedxml).
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
        book = _Book.open(data)
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
    header: list[str] | None = None
    header_row = 1
    rows: list[tuple[int, list[str]]] = []
    unreadable: dict[tuple[int, int], str] = {}
    merged: list[str] = []
    try:
        for number, cells in book.rows(unreadable, merged):
            # A row whose only cells are errors is not blank: it is read, and refused.
            if not any(c.strip() for c in cells) and not any((number, i) in unreadable for i in range(len(cells))):
                continue
            if header is not None:
                rows.append((number, cells))
                continue
            header, header_row = cells, number
            if bad := [i for i in range(len(cells)) if (number, i) in unreadable]:
                raise FileProblem(unreadable[number, bad[0]], row=number, column=column_label(bad[0], cells))
        if merged:
            _fill_merged(rows, merged, unreadable)
    except FileProblem:
        raise
    except Exception as exc:
        raise FileProblem(
            gettext("The XLSX workbook is damaged (%(error)s); save it again from the spreadsheet program, or as CSV.")
            % {"error": exc}
        ) from None
    finally:
        book.archive.close()
    if header is None:
        raise FileProblem(gettext("The workbook's first sheet is empty; expected a header row and data rows."), row=1)
    while header and not header[-1].strip():
        header.pop()
    return Table(header, rows, len(rows), None, None, header_row, unreadable)


def _fill_merged(rows: list[tuple[int, list[str]]], merged: list[str], unreadable: dict[tuple[int, int], str]) -> None:
    """Cells merged down a column show the value of the first in each row: a manager merged down the rows of a team
    is each row's manager, not the first row's only (the others are stored empty, and an empty cell clears a
    value). A merge across columns fills nothing: a name merged over an empty description is no description."""
    index = dict(rows)
    numbers = [number for number, _cells in rows]  # ascending: _SheetParser refuses rows out of order
    budget = MERGED_CELLS_PER_ROW * max(len(rows), 1)  # merges in the file's own columns fill at most each cell
    for reference in merged:
        column, first_row, _, last_row = range_boundaries(reference)
        if first_row not in index or column > XLSX_COLUMNS:  # a header or a title spanning rows
            continue
        first = index[first_row]
        text = first[column - 1] if column <= len(first) else ""
        problem = unreadable.get((first_row, column - 1))
        below = numbers[bisect.bisect_right(numbers, first_row) : bisect.bisect_right(numbers, last_row)]
        budget -= len(below)
        if budget < 0:
            raise FileProblem(
                gettext("The sheet merges more cells than it holds; unmerge them and save it again."), row=first_row
            )
        for number in below:
            cells = index[number]
            cells.extend([""] * (column - len(cells)))
            cells[column - 1] = text
            if problem is None:
                unreadable.pop((number, column - 1), None)
            else:
                unreadable[number, column - 1] = problem


MAIN = f"{SHEET_MAIN_NS} "  # element names as expat gives them, namespace and name apart
CELL, ROW, VALUE, FORMULA, INLINE, STRING, TEXT, PHONETIC, MERGED = (
    MAIN + tag for tag in ("c", "row", "v", "f", "is", "si", "t", "rPh", "mergeCell")
)
COLUMN_OF = {get_column_letter(i): i for i in range(1, XLSX_COLUMNS + 1)}  # cells further right are not read
DIGITS = "0123456789"


@dataclass
class _Book:
    """What reading a workbook's first sheet needs: its XML's place in the archive, the shared strings, and the
    styles that make a number a date, or show it otherwise than as it is (00042, E042, 50%).

    openpyxl reads the workbook around the sheet, but not the sheet itself. Its reader builds an object for every
    cell and every inline string and, for a sheet that does not declare its size (openpyxl's own files), parses the
    whole sheet once more to find it: half a minute for 100,000 rows. It pads every row to the declared size, which
    a few kilobytes can make billions of cells, and reads as empty a formula whose result is not saved."""

    archive: zipfile.ZipFile
    sheet: str | None
    shared: list[str]
    number_formats: dict[int, str]  # styles, by index, that show a number otherwise than General does
    dates: set[int]
    days: set[int]  # date styles that show no time of day
    durations: set[int]
    epoch: datetime.datetime

    @classmethod
    def open(cls, data: bytes) -> _Book:
        # The steps of openpyxl's load_workbook (openpyxl is pinned) but for reading the worksheets.
        reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True)
        reader.read_manifest()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        workbook = reader.wb
        worksheets = [
            (sheet.state, rel.target)
            for sheet, rel in reader.parser.find_sheets()
            if rel.target in reader.valid_files and "chartsheet" not in rel.Type
        ]
        # The first visible sheet: a hidden one before it holds lookups, not the data.
        sheet = next((target for state, target in worksheets if state == "visible"), None)
        if sheet is None and worksheets:
            sheet = worksheets[0][1]
        custom = workbook._number_formats
        formats = [  # as openpyxl's cell.number_format reads them; a format the styles do not define is General
            BUILTIN_FORMATS.get(style.numFmtId, "General")
            if style.numFmtId < BUILTIN_FORMATS_MAX_SIZE
            else (custom[i] if (i := style.numFmtId - BUILTIN_FORMATS_MAX_SIZE) < len(custom) else "General")
            for style in workbook._cell_styles
        ]
        # Read here rather than by openpyxl, which drops "x005F_" from them: Excel's escape of an underscore, so a
        # text spelling _x000D_ came back as a carriage return.
        strings = reader.package.find(SHARED_STRINGS)
        return cls(
            reader.archive,
            sheet,
            list(_parse(reader.archive, strings.PartName[1:], _Strings(STRING))) if strings is not None else [],
            {
                i: number_format
                for i, number_format in enumerate(formats)
                if number_format not in ("General", "@") and i not in workbook._date_formats
            },
            workbook._date_formats,
            {i for i in workbook._date_formats if not re.search("[hs]", _shown(formats[i]), re.IGNORECASE)},
            workbook._timedelta_formats,
            workbook.epoch,
        )

    def rows(self, unreadable: dict[tuple[int, int], str], merged: list[str]) -> Iterator[tuple[int, list[str]]]:
        """The sheet's stored rows: (row number, the text of each cell up to the last stored one), as the XML is
        parsed. Cells holding no value to read go into ``unreadable``, merged ranges (A1:B2) into ``merged``."""
        if self.sheet is not None:
            yield from _parse(self.archive, self.sheet, _SheetParser(self, unreadable, merged))


def _parse(archive: zipfile.ZipFile, part: str, handler: _SheetParser | _Strings) -> Iterator[Any]:
    """Feed a part of the workbook to expat as it is unpacked, and give what the handler has read as it goes."""
    parser = pyexpat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.StartElementHandler, parser.EndElementHandler = handler.start, handler.end
    parser.CharacterDataHandler = handler.characters
    parser.StartDoctypeDeclHandler = _no_doctype  # no entities to expand: a workbook has no use for a DTD
    with archive.open(part) as source:
        while chunk := source.read(2**20):
            parser.Parse(chunk, False)
            yield from handler.done
            handler.done.clear()
    parser.Parse(b"", True)
    yield from handler.done


def _no_doctype(name: str, *_: object) -> None:
    raise ValueError(f"a document type declaration ({name}) in its XML")


class _Strings:
    """expat's handlers for text, plain or in runs of rich text, as the shared strings (<si>) and inline strings
    (<is>) hold it: the text of each ``closing`` element goes to ``done``, without its reading guides."""

    def __init__(self, closing: str) -> None:
        self.closing = closing
        self.done: list[str] = []
        self.runs: list[str] = []
        self.text: list[str] | None = None  # the character data of the <t> being read
        self.phonetic = False

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if name == TEXT and not self.phonetic:
            self.text = []
        elif name == PHONETIC:  # a reading guide over East Asian text, not part of it
            self.phonetic = True

    def characters(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def end(self, name: str) -> None:
        if name == TEXT and self.text is not None:
            self.runs.append("".join(self.text))
            self.text = None
        elif name == PHONETIC:
            self.phonetic = False
        elif name == self.closing:
            self.done.append("".join(self.runs))
            self.runs = []


class _SheetParser:
    """expat's handlers for a sheet's rows: cells are read as their elements end, rows go to ``done``."""

    def __init__(self, book: _Book, unreadable: dict[tuple[int, int], str], merged: list[str]) -> None:
        self.book, self.unreadable, self.merged = book, unreadable, merged
        self.done: list[tuple[int, list[str]]] = []
        self.number = self.column = 0
        self.cells: list[tuple[int, str | Unreadable]] = []
        self.cell: dict[str, str] = {}
        self.text: list[str] | None = None  # the character data of the <v> being read
        self.value: str | None = None
        self.inline = _Strings(INLINE)
        self.in_inline = self.formula = False

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if self.in_inline:
            self.inline.start(name, attributes)
        elif name == CELL:
            reference = attributes.get("r")
            if reference:
                letters = reference.rstrip(DIGITS)
                self.column = COLUMN_OF.get(letters) or column_index_from_string(letters)
            else:
                self.column += 1
            self.cell, self.value, self.formula = attributes, None, False
        elif name == VALUE:
            self.text = []
        elif name == INLINE:
            self.in_inline = True
        elif name == FORMULA:
            self.formula = True
        elif name == ROW:
            number = int(float(attributes.get("r") or self.number + 1))  # some programs write r="2.0"
            if number <= self.number:
                raise ValueError(f"row {number} stored after row {self.number}")
            self.number, self.column, self.cells = number, 0, []
        elif name == MERGED:
            self.merged.append(attributes.get("ref", ""))

    def characters(self, data: str) -> None:
        if self.in_inline:
            self.inline.characters(data)
        elif self.text is not None:
            self.text.append(data)

    def end(self, name: str) -> None:
        if self.in_inline:
            self.inline.end(name)
            if name == INLINE:
                self.in_inline, self.value = False, self.inline.done.pop()
        elif name == VALUE and self.text is not None:
            self.value, self.text = "".join(self.text), None
        elif name == CELL:
            if 0 < self.column <= XLSX_COLUMNS:
                self.cells.append((self.column, self.read_cell()))
        elif name == ROW and self.cells:
            text = [""] * max(column for column, _ in self.cells)  # cells out of order are read where they are
            for column, value in self.cells:
                if isinstance(value, Unreadable):
                    self.unreadable[self.number, column - 1] = value.message
                else:
                    text[column - 1] = value
            self.done.append((self.number, text))

    def read_cell(self) -> str | Unreadable:
        """The cell's text as the spreadsheet shows it (as openpyxl's reader reads a value)."""
        kind, value, book = self.cell.get("t", "n"), self.value, self.book
        # A formula giving "" keeps an empty <v/> and has type str (an inline string is its own value); with no <v>
        # at all nothing was saved.
        if self.formula and (value is None or (not value and kind not in ("str", "inlineStr"))):
            return Unreadable(
                gettext(
                    "The cell holds a formula whose result is not saved in the file (a program wrote it, no "
                    "spreadsheet calculated it); open the file in a spreadsheet program and save it, or replace the "
                    "formula by its value."
                )
            )
        if kind == "inlineStr":
            return _cell_text(value or "")
        if not value:
            return ""
        if kind == "s":
            if (index := int(value)) < 0:
                raise ValueError(f"shared string {index}")
            return _cell_text(book.shared[index])
        if kind == "e":
            return Unreadable(
                gettext("The cell shows the spreadsheet error %(error)s, not a value; correct its formula.")
                % {"error": value}
            )
        if kind == "b":
            return _cell_text(bool(int(value)))
        if kind not in ("n", "d"):  # str: a formula's text
            return _cell_text(value)
        number: float = 0 if kind == "d" else float(value) if any(c in value for c in ".eE") else int(value)
        style = int(self.cell.get("s", 0))
        if kind == "d" or style in book.dates:  # a date as a number of days, or in ISO 8601 (t="d")
            try:
                if kind == "d":
                    moment = from_ISO8601(value)
                elif number < 0 and style not in book.durations:  # a spreadsheet shows ##### there
                    raise ValueError
                else:
                    moment = from_excel(number, book.epoch, timedelta=style in book.durations)
            except (OverflowError, ValueError):
                message = gettext("The cell is formatted as a date, but %(value)s is no date; enter the date again.")
                return Unreadable(message % {"value": value})
            if style in book.days and isinstance(moment, datetime.datetime):  # shown as 15/03/2023, whatever the hour
                moment = moment.date()
            return _cell_text(moment)
        if (number_format := book.number_formats.get(style)) is None:
            return _cell_text(number)
        # An employee number shown as 00042 or E042, a share shown as 50%: read as shown. Read as stored, a key
        # would name another row (42); a format that is not understood is refused rather than guessed.
        if (text := numfmt.shown(number, number_format)) is None:
            message = gettext(
                "The cell shows its number %(value)s in the format %(format)s, which the import does not read; format "
                "the cell as text and type the value as it should be read."
            )
            return Unreadable(message % {"value": value, "format": number_format})
        return text


class Unreadable:
    """A cell that holds no value to read, and why."""

    def __init__(self, message: str) -> None:
        self.message = message

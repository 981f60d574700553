"""Helpers for the import and export tests: run the commands on a file, and take a snapshot of every org table
(and its history) to prove that a failed import changed nothing."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from org.models import Assignment, Department, Employee, Project, Role

ORG_MODELS = (Department, Employee, Project, Role, Assignment)
EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def write(tmp_path: Path, content: str | bytes, name: str = "file.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def import_ok(kind: str, path: Path, *args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command("import_org", kind, str(path), *args, stdout=out, stderr=err)
    assert err.getvalue() == "", err.getvalue()
    return out.getvalue()


def import_fails(kind: str, path: Path, *args: str) -> str:
    """The problems the command reports (one a line); fails the test if the import succeeded."""
    out, err = StringIO(), StringIO()
    try:
        call_command("import_org", kind, str(path), *args, stdout=out, stderr=err)
    except CommandError as exc:
        assert "the database is unchanged" in str(exc)
        return err.getvalue()
    raise AssertionError(f"the import succeeded:\n{out.getvalue()}")


def export(kind: str, *args: str) -> str:
    out = StringIO()
    call_command("export_org", kind, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def snapshot() -> dict[str, list]:
    """Every row of every org table and history table, in a stable order."""
    tables: dict[str, list] = {}
    for model in ORG_MODELS:
        for m in (model, model.history.model):
            tables[m.__name__] = sorted(map(repr, m._default_manager.values_list()))
    return tables


def load_examples(tmp_path: Path | None = None) -> None:
    """The example files of docs/examples, imported in dependency order."""
    for kind in ("departments", "roles", "employees", "projects", "assignments"):
        import_ok(kind, EXAMPLES / f"{kind}.csv")


def workbook(rows: list[list[object]], *, above: int = 0, damage: tuple[str, Callable[[bytes], bytes]] = ()) -> bytes:
    """An XLSX file of ``rows`` (cells typed as given), after ``above`` blank rows; ``damage`` (a member of the zip
    and what to do to its bytes) breaks it as a bad copy or a careless tool would."""
    book = Workbook()
    for row in [[]] * above + rows:
        book.active.append(row)
    saved = io.BytesIO()
    book.save(saved)
    return rewritten(saved.getvalue(), *damage) if damage else saved.getvalue()


def rewritten(content: bytes, member: str, change: Callable[[bytes], bytes]) -> bytes:
    """``content`` (a workbook) with its part ``member`` changed by ``change``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, change(data) if item.filename == member else data)
    return out.getvalue()


def with_shared_strings(content: bytes) -> bytes:
    """``content`` (a workbook of openpyxl's, whose text is in inline strings) with its text in a shared strings
    part, as Excel and LibreOffice save it."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    strings: dict[str, int] = {}

    def shared(cell: re.Match) -> str:
        return f'<c{cell[1]} t="s"{cell[2]}><v>{strings.setdefault(cell[3], len(strings))}</v></c>'

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as target:
        parts = {item.filename: source.read(item.filename) for item in source.infolist()}
        sheet = parts["xl/worksheets/sheet1.xml"].decode()
        parts["xl/worksheets/sheet1.xml"] = re.sub(
            r'<c([^>]*?) t="inlineStr"([^>]*)><is>(.*?)</is></c>', shared, sheet, flags=re.S
        ).encode()
        table = "".join(f"<si>{text}</si>" for text in strings)
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{main}" count="{len(strings)}">{table}</sst>'.encode()
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
            b"</Types>",
            b'<Override PartName="/xl/sharedStrings.xml" '
            b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        )
        parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
            b"</Relationships>",
            b'<Relationship Id="rIdStrings" Target="sharedStrings.xml" '
            b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
            b"</Relationships>",
        )
        for name, data in parts.items():
            target.writestr(name, data)
    return out.getvalue()


def zip_bomb(content: bytes, unpacked: int) -> bytes:
    """``content`` (a workbook) with one more member of ``unpacked`` zero bytes, a few hundred kilobytes packed."""
    out = io.BytesIO(content)
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_DEFLATED) as archive, archive.open("xl/pad.bin", "w") as pad:
        block = bytes(2**20)
        for _ in range(-(-unpacked // len(block))):  # whole blocks, at least unpacked bytes
            pad.write(block)
    return out.getvalue()

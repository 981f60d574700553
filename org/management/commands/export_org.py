"""manage.py export_org KIND: the rows of one kind in the columns import_org reads (CSV, or XLSX by file name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from org.imports.engine import FORMATS, KINDS
from org.imports.exporting import HEADERS, write_csv, write_xlsx


class Command(BaseCommand):
    help = "Export departments, employees, projects, roles, assignments or job history as CSV (or XLSX)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("--format", choices=FORMATS, default=None, help="Default: projman.")
        parser.add_argument("--output", "-o", help="A file; XLSX when it ends in .xlsx. Default: CSV on stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        kind, fmt = options["kind"], options["format"] or "projman"
        if (kind, fmt) not in HEADERS:
            known = ", ".join(f for k, f in HEADERS if k == kind)
            raise CommandError(f"No {fmt} export for {kind}; choose one of: {known}.")
        output = options["output"]
        if not output:
            write_csv(kind, self.stdout, fmt)
            return
        path = Path(output)
        try:
            if path.suffix.lower() == ".xlsx":
                with path.open("wb") as stream:
                    count = write_xlsx(kind, stream, fmt)
            else:
                with path.open("w", encoding="utf-8", newline="") as stream:
                    count = write_csv(kind, stream, fmt)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None
        self.stderr.write(f"{count} {kind} rows written to {path}")

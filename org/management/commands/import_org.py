"""manage.py import_org KIND FILE: validate the whole file, then write it all or nothing (see org.imports.engine)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from org.imports.engine import FORMATS, KINDS, MEMBER_ROLE, run_import


class ProgressBar:
    """A one-line bar redrawn in place on a terminal; silent anywhere else (a pipe, a log file, cron)."""

    def __init__(self, stream: IO[str], width: int = 30) -> None:
        self.stream, self.width = stream, width
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self.last = 0.0
        self.phase = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if phase == self.phase and done < total and now - self.last < 0.1:
            return
        self.phase, self.last = phase, now
        filled = self.width * done // total if total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{phase:<10} [{bar}] {done:,}/{total:,}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Import departments, employees, projects, roles, assignments or job history from a CSV or XLSX file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("file", help="A .csv or .xlsx file.")
        parser.add_argument("--format", choices=FORMATS, help="Default: recognised from the header.")
        parser.add_argument("--encoding", help="Of a CSV file; default: UTF-8 (with or without BOM), else cp1252.")
        parser.add_argument("--dry-run", action="store_true", help="Validate and count, write nothing.")
        parser.add_argument(
            "--member-role", default=MEMBER_ROLE, help="The role job-history rows become (history only)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        started = time.monotonic()
        report = run_import(
            options["kind"],
            data,
            filename=path.name,
            format=options["format"],
            encoding=options["encoding"],
            dry_run=options["dry_run"],
            member_role=options["member_role"],
            progress=ProgressBar(sys.stderr),
        )
        source = f"{path.name}: {report.rows} row{'' if report.rows == 1 else 's'}"
        if report.format:
            source += f", format {report.format}"
        if report.encoding:
            source += f", {report.encoding}, delimiter {report.delimiter!r}"
        self.stdout.write(source)
        for note in report.notes:
            self.stdout.write(f"note: {note}")
        for problem in report.problems:
            self.stderr.write(f"{path.name}: {problem}")
        for line in report.summary():
            self.stdout.write(line)
        if not report.ok:
            raise CommandError(f"{len(report.problems)} problem(s) in {path.name}; the database is unchanged.")
        self.stdout.write(self.style.SUCCESS(f"Done in {time.monotonic() - started:.1f} s."))

"""manage.py export_org KIND: the rows of one kind in the columns import_org reads (CSV, or XLSX by file name)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from org.imports.engine import FORMATS, KINDS, MEMBER_ROLE, history_role
from org.imports.exporting import HEADERS, write_csv, write_export
from org.models import Department
from org.tables import fold

# Workbooks of other programs, which a CSV named so would pass for: refused rather than written wrongly.
OTHER_WORKBOOKS = {".xls", ".xlsm", ".xlsb", ".ods", ".numbers"}


class Command(BaseCommand):
    help = "Export departments, employees, projects, roles, assignments or job history as CSV (or XLSX)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("--format", choices=FORMATS, default=None, help="Default: projman.")
        parser.add_argument("--output", "-o", help="A file; XLSX when it ends in .xlsx. Default: CSV on stdout.")
        parser.add_argument(
            "--member-role",
            default=MEMBER_ROLE,
            help="The role whose department assignments are the job history (history only; as import_org's).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kind, fmt = options["kind"], options["format"] or "projman"
        if (kind, fmt) not in HEADERS:
            known = ", ".join(f for k, f in HEADERS if k == kind)
            raise CommandError(f"No {fmt} export for {kind}; choose one of: {known}.")
        output, member_role = options["output"], options["member_role"].strip()
        if kind == "history":
            role = history_role(member_role)
            if role is None and member_role and fold(member_role) != fold(MEMBER_ROLE):
                raise CommandError(
                    f"No role is named {member_role!r}; the job history is the department assignments of the role "
                    f"that import_org --member-role gave them ({MEMBER_ROLE} unless chosen)."
                )
            if role is not None and not role.applies_to_target(Department()):
                raise CommandError(f"The role {role.name!r} does not apply to departments: it holds no job history.")
        if not output:
            try:
                write_csv(kind, self.stdout, fmt, member_role=member_role)
                self.stdout.flush()
            except BrokenPipeError:  # the reader stopped early (`export_org … | head`): not an error of ours
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python would flush into it at exit
            return
        path = Path(output)
        if path.suffix.lower() in OTHER_WORKBOOKS:
            raise CommandError(
                f"export_org writes CSV, or XLSX for a name ending in .xlsx, not {path.suffix}: name the file .xlsx or "
                ".csv."
            )
        xlsx = path.suffix.lower() == ".xlsx"
        mode = {"mode": "wb"} if xlsx else {"mode": "w", "encoding": "utf-8", "newline": ""}
        try:
            if path.exists() and not path.is_file():  # /dev/stdout, a named pipe: written as it is
                with path.open(**mode) as stream:
                    count = write_export(kind, stream, fmt, xlsx=xlsx, member_role=member_role)
            else:
                count = self.write_whole(path, mode, kind, fmt, xlsx=xlsx, member_role=member_role)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None
        # On stderr, as a note beside the data rather than in it, but not styled as an error.
        self.stderr.write(f"{count} {'row' if count == 1 else 'rows'} of {kind} written to {path}.", style_func=str)

    def write_whole(self, path: Path, mode: dict[str, str], kind: str, fmt: str, **options: Any) -> int:
        """Written beside the file and moved over it once complete (closing included): a failure leaves no
        half-written file behind, nor an earlier export destroyed."""
        partial = None
        try:
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False, **mode) as stream:
                partial = Path(stream.name)
                count = write_export(kind, stream, fmt, **options)
            umask = os.umask(0)
            os.umask(umask)
            partial.chmod(0o666 & ~umask)  # as a file opened for writing would be, not the temporary file's 0600
            partial.replace(path)
        except BaseException:
            if partial is not None:
                partial.unlink(missing_ok=True)
            raise
        return count

"""The import in the admin: upload, see the dry run with every problem, confirm. Same engine as ``import_org``.

Between the preview and the confirmation the uploaded file waits in a private temporary directory under a random
name; the confirmation carries that name signed for the user who uploaded it, valid for an hour. The engine checks
the file again on confirmation, so anything that changed in between is caught, and it writes all or nothing.
"""

from __future__ import annotations

import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

from django import forms
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from org.access import is_hr
from org.imports.engine import FORMATS, Report, formats_for, run_import
from org.models import Assignment, Department, Employee, Project, Role

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
PENDING_SECONDS = 3600
KINDS_OF_MODEL = {
    Department: ["departments"],
    Employee: ["employees"],
    Project: ["projects"],
    Role: ["roles"],
    Assignment: ["assignments", "history"],
}
KIND_LABELS = {
    "departments": _("Departments"),
    "employees": _("Employees"),
    "projects": _("Projects"),
    "roles": _("Roles"),
    "assignments": _("Assignments"),
    "history": _("Job history (home departments)"),
}
FORMAT_LABELS = {
    "projman": _("ProjMan columns"),
    "orangehrm": _("OrangeHRM 5 employee template"),
    "jobhistory": _("Job history export"),
}
ENCODINGS = [
    ("", _("Detect (UTF-8, else Windows-1252)")),
    ("utf-8", "UTF-8"),
    ("cp1252", "Windows-1252"),
    ("latin-1", "Latin-1 (ISO-8859-1)"),
    ("utf-16", "UTF-16"),
]
SHOWN_PROBLEMS = 500
TOKEN = re.compile(r"[0-9a-f]{32}")


def pending_dir() -> Path:
    directory = Path(tempfile.gettempdir()) / "projman-imports"
    directory.mkdir(mode=0o700, exist_ok=True)
    return directory


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"))
    format = forms.ChoiceField(label=_("Format"), required=False)
    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODINGS, required=False)
    file = forms.FileField(label=_("File"), help_text=_("CSV (comma or semicolon) or XLSX."))

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k, KIND_LABELS[k]) for k in kinds]
        formats = sorted({fmt for k in kinds for fmt in formats_for(k)}, key=FORMATS.index)
        self.fields["format"].choices = [("", _("Recognise from the header"))] + [
            (f, FORMAT_LABELS[f]) for f in formats
        ]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(limit)d MB; split it or use manage.py import_org.")
                % {"limit": MAX_UPLOAD_BYTES // 1024 // 1024}
            )
        return upload

    def clean(self):
        cleaned = super().clean()
        kind, fmt = cleaned.get("kind"), cleaned.get("format")
        if kind and fmt and fmt not in formats_for(kind):
            self.add_error("format", _("This format has no rows of that kind."))
        return cleaned


class ImportAdminMixin:
    """Adds an "Import" page to a ModelAdmin, for users who may add its rows."""

    change_list_template = "admin/org/change_list_import.html"

    def get_urls(self):
        opts = self.model._meta
        view = self.admin_site.admin_view(self.import_view)
        name = f"{opts.app_label}_{opts.model_name}_import"
        return [path("import/", view, name=name), *super().get_urls()]

    def may_import(self, request: HttpRequest) -> bool:
        """Imports write many rows at once, past any one department: HR administrators only (org.access)."""
        return is_hr(request.user) and self.has_add_permission(request)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        if self.may_import(request):
            opts = self.model._meta
            extra_context = {
                **(extra_context or {}),
                "import_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_import"),
            }
        return super().changelist_view(request, extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.may_import(request):
            raise PermissionDenied
        kinds = KINDS_OF_MODEL[self.model]
        report: Report | None = None
        token = ""
        form = ImportForm(kinds=kinds, initial={"kind": kinds[0]})
        if request.method == "POST" and "confirm" in request.POST:
            return self.confirm(request, kinds)
        if request.method == "POST":
            form = ImportForm(request.POST, request.FILES, kinds=kinds)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                data = b"".join(upload.chunks())
                report = self.run(request, form.cleaned_data, data, upload.name, dry_run=True)
                if report.ok:
                    name = secrets.token_hex(16)
                    (pending_dir() / name).write_bytes(data)
                    token = signing.dumps(
                        {
                            "file": name,
                            "user": request.user.pk,
                            "kind": form.cleaned_data["kind"],
                            "format": form.cleaned_data["format"],
                            "encoding": form.cleaned_data["encoding"],
                            "name": upload.name,
                        },
                        salt="org.import",
                    )
        return self.render(request, form, report, token)

    def confirm(self, request: HttpRequest, kinds: list[str]) -> HttpResponse:
        form = ImportForm(kinds=kinds, initial={"kind": kinds[0]})
        try:
            pending = signing.loads(request.POST.get("token", ""), salt="org.import", max_age=PENDING_SECONDS)
        except signing.BadSignature:
            pending = None
        stored = pending_dir() / pending["file"] if pending and TOKEN.fullmatch(str(pending.get("file"))) else None
        if (
            pending is None
            or pending.get("user") != request.user.pk
            or pending.get("kind") not in kinds
            or not (stored and stored.exists())
        ):
            self.message_user(
                request, _("That preview has expired or is not yours; upload the file again."), messages.ERROR
            )
            return self.render(request, form, None, "")
        data = stored.read_bytes()
        report = self.run(request, pending, data, pending["name"], dry_run=False)
        if not report.ok:
            return self.render(request, form, report, "")
        stored.unlink(missing_ok=True)
        self.message_user(
            request,
            _("Imported %(file)s: %(summary)s") % {"file": pending["name"], "summary": "; ".join(report.summary())},
            messages.SUCCESS,
        )
        opts = self.model._meta
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))

    def run(self, request: HttpRequest, options: dict, data: bytes, filename: str, *, dry_run: bool) -> Report:
        return run_import(
            options["kind"],
            data,
            filename=filename,
            format=options.get("format") or None,
            encoding=options.get("encoding") or None,
            dry_run=dry_run,
            user=request.user,
        )

    def render(self, request: HttpRequest, form: ImportForm, report: Report | None, token: str) -> TemplateResponse:
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import %(things)s") % {"things": opts.verbose_name_plural},
            "opts": opts,
            "form": form,
            "report": report,
            "problems": report.problems[:SHOWN_PROBLEMS] if report else [],
            "more_problems": max(0, len(report.problems) - SHOWN_PROBLEMS) if report else 0,
            "token": token,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/org/import.html", context)

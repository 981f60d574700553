"""The import in the admin: upload, see the dry run with every problem, confirm. Same engine as ``import_org``.

Between the preview and the confirmation the uploaded file waits in the database (``org.imports.pending``), so
that any app server can take the confirmation; the confirmation carries its id, signed and valid for an hour, and
only the user who uploaded it can claim it. The engine checks the file again on confirmation, so anything that
changed in between is caught, and it writes all or nothing; the file is claimed under a lock in the same
transaction, so it is imported once. The confirmation writes only what the preview showed (its ``fingerprint``,
signed with the id): where the database changed in between so that the file would now do something else (undo an
edit made meanwhile, recreate a row deleted since, or nothing at all), it writes nothing and shows the new preview,
to confirm again.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from org.access import is_hr
from org.imports import pending
from org.imports.engine import FORMATS, MEMBER_ROLE, Report, formats_for, run_import
from org.models import Assignment, Department, Employee, Project, Role

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
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
    ("", _("Detect (UTF-8, UTF-16 with a BOM, else Windows-1252)")),
    ("utf-8", "UTF-8"),
    ("cp1252", "Windows-1252"),
    ("latin-1", "Latin-1 (ISO-8859-1)"),
    ("utf-16", "UTF-16"),
]
SHOWN_PROBLEMS = 500
OPTIONS = ("kind", "format", "encoding", "member_role")  # what a waiting file keeps of the form
GONE = _(
    "That file is not waiting to be confirmed: it has been imported or refused already, or its preview has expired"
    " or is not yours; upload it again."
)
STALE = _(
    "The data changed since the preview of %(file)s, so the file would now do what is shown here, not what the"
    " preview showed; nothing has been written. Check it, and confirm again to write it."
)


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"))
    format = forms.ChoiceField(label=_("Format"), required=False)
    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODINGS, required=False)
    file = forms.FileField(label=_("File"), help_text=_("CSV (comma, semicolon or tab) or XLSX."))
    member_role = forms.CharField(
        label=_("Role for home departments"),
        max_length=100,
        required=False,
        initial=MEMBER_ROLE,
        help_text=_("Job history only: the role its rows become on each home department; created if missing."),
    )

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k, KIND_LABELS[k]) for k in kinds]
        if "history" not in kinds:
            del self.fields["member_role"]
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
                options = {name: form.cleaned_data.get(name, "") for name in OPTIONS}
                report = self.run(request, options, data, upload.name, dry_run=True)
                token = self.wait(request, options, data, upload.name, report)
        return self.render(request, form, report, token)

    def wait(self, request: HttpRequest, options: dict, data: bytes, filename: str, report: Report) -> str:
        """Keep a file whose dry run found changes to write waiting for its confirmation; the token that confirms
        it (its id and the fingerprint of what the preview showed, signed), or "" when there is nothing to do."""
        if not (report.ok and report.changes):
            return ""
        waiting = pending.keep(request.user, data, filename=filename, **options)
        return signing.dumps({"pending": waiting, "plan": report.plan}, salt="org.import")

    def confirm(self, request: HttpRequest, kinds: list[str]) -> HttpResponse:
        form = ImportForm(kinds=kinds, initial={"kind": kinds[0]})
        try:
            signed = signing.loads(request.POST.get("token", ""), salt="org.import", max_age=pending.PENDING_SECONDS)
        except signing.BadSignature:
            signed = {}
        with transaction.atomic():
            claimed = pending.claim(signed.get("pending"), request.user)  # only the uploader's own file
            if claimed is None or claimed[0].kind not in kinds:
                self.message_user(request, GONE, messages.ERROR)
                return self.render(request, form, None, "")
            waiting, data = claimed
            # Imported, or refused as it now stands: either way it waits no more. Deleted first, in the same
            # transaction: if the database breaks the transaction (a deadlock), both roll back and the file waits on.
            waiting.delete()
            options = {name: getattr(waiting, name) for name in OPTIONS}
            report = self.run(request, options, data, waiting.filename, dry_run=False, expect=signed.get("plan"))
        if report.stale:
            self.message_user(request, STALE % {"file": waiting.filename}, messages.WARNING)
            return self.render(request, form, report, self.wait(request, options, data, waiting.filename, report))
        if not report.ok:
            return self.render(request, form, report, "")
        self.message_user(
            request,
            _("Imported %(file)s: %(summary)s") % {"file": waiting.filename, "summary": "; ".join(report.summary())},
            messages.SUCCESS,
        )
        opts = self.model._meta
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))

    def run(
        self,
        request: HttpRequest,
        options: dict,
        data: bytes,
        filename: str,
        *,
        dry_run: bool,
        expect: str | None = None,
    ) -> Report:
        return run_import(
            options["kind"],
            data,
            filename=filename,
            format=options.get("format") or None,
            encoding=options.get("encoding") or None,
            dry_run=dry_run,
            user=request.user,
            member_role=options.get("member_role") or MEMBER_ROLE,
            fingerprint_plan=dry_run,
            expect=expect,
        )

    def render(self, request: HttpRequest, form: ImportForm, report: Report | None, token: str) -> TemplateResponse:
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import %(things)s") % {"things": opts.verbose_name_plural},
            "opts": opts,
            "form": form,
            "report": report,
            "format_label": FORMAT_LABELS.get(report.format, "") if report else "",
            "problems": report.problems[:SHOWN_PROBLEMS] if report else [],
            "more_problems": max(0, len(report.problems) - SHOWN_PROBLEMS) if report else 0,
            "token": token,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/org/import.html", context)

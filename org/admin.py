"""The admin: HR and PMO staff's editing surface.

Assignments are written only through ``org.services``: the forms validate with
the same locked rule checks the services use (the admin wraps each change view
in one transaction, so the lock taken while validating holds until the save),
and saving calls the services. Every list joins its related rows, so a page
costs the same number of queries whatever the size of the company.

Who sees and changes what follows ``org.access``: a department manager's lists,
forms, autocompletes, actions and history pages hold their own part of the tree
only, and anything outside it answers 404.
"""

from __future__ import annotations

import copy

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AdminDateWidget, AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections, router, transaction
from django.db.models import CharField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Concat
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import DeletedObject
from simple_history.template_utils import HistoricalRecordContextHelper

from org import selectors, services
from org.access import scope_of
from org.filters import search_assignments, search_cut_message, search_words
from org.imports.admin import ImportAdminMixin
from org.models import Assignment, Department, Employee, Project, Role


def add_validation_error(form: forms.BaseForm, error: ValidationError) -> None:
    """Attach ``error`` to ``form``, moving messages for fields the form does
    not show (an inline's parent key, say) to the form's general errors."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


class EmployeeChoiceField(forms.ModelChoiceField):
    """A picked employee shown with their number, as the autocomplete lists them (EmployeeAdmin)."""

    def label_from_instance(self, obj: Employee) -> str:
        return obj.name_and_number


def could_be_id(field, value: object) -> bool:
    """Whether ``value`` could be stored in ``field`` (a key): "abc", or a number beyond the column's integers,
    cannot, and looking rows up by it fails with an error instead of finding none."""
    try:
        value = field.to_python(value)
    except ValidationError:
        return False
    if isinstance(value, int):
        low, high = connections[router.db_for_read(field.model)].ops.integer_field_range(field.get_internal_type())
        return (low is None or value >= low) and (high is None or value <= high)
    return True


class SafeAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete, drawing a posted value that cannot be an id ("abc") as no choice: Django's own looks
    it up to draw the form again with the field's error, and fails with a 500 (the field says "Select a valid
    choice" either way)."""

    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field
        key = remote.model._meta.get_field(getattr(remote, "field_name", None) or remote.model._meta.pk.name)
        return super().optgroups(name, [v for v in value if could_be_id(key, v)], attr)


def picker_options(model_admin, db_field, request, kwargs: dict) -> dict:
    """``formfield_for_foreignkey``'s arguments: an employee field labelled by name and number, and an
    autocomplete that a crafted value cannot break."""
    if db_field.related_model is Employee:
        kwargs.setdefault("form_class", EmployeeChoiceField)
    if "widget" not in kwargs and db_field.name in model_admin.get_autocomplete_fields(request):
        kwargs["widget"] = SafeAutocompleteSelect(db_field, model_admin.admin_site, using=kwargs.get("using"))
    return kwargs


# --- List filters ----------------------------------------------------------------


class DepartmentSubtreeFilter(admin.SimpleListFilter):
    """Rows belonging to a department or any department under it."""

    title = _("department (with sub-departments)")
    parameter_name = "department_tree"
    #: ORM paths to a department id; a row matches when any of them is in the subtree.
    paths: tuple[str, ...] = ("department",)

    def lookups(self, request, model_admin):
        return [(str(d.pk), format_html("{}{}", "\u2003" * depth, d.name)) for d, depth in selectors.department_tree()]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if not could_be_id(Department._meta.pk, self.value()):
            raise IncorrectLookupParameters(self.value())
        root = int(self.value())
        ids = selectors.department_subtree_ids(root)
        condition = Q()
        for path in self.paths:
            condition |= Q(**{f"{path}__in": ids})
        return queryset.filter(condition)


class AssignmentTargetSubtreeFilter(DepartmentSubtreeFilter):
    paths = ("department", "project__department")


class DepartmentSelfSubtreeFilter(DepartmentSubtreeFilter):
    title = _("under department")
    paths = ("pk",)


class AssignmentStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [
            ("current", _("Current")),
            ("past", _("Past")),
            ("future", _("Future")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "current":
            return queryset.current()
        if value == "past":
            return queryset.past()
        if value == "future":
            return queryset.future()
        return queryset


class EmployeeStatusFilter(admin.SimpleListFilter):
    title = _("employment")
    parameter_name = "employment"

    def lookups(self, request, model_admin):
        return [("current", _("Current staff")), ("left", _("Left"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "current":
            return queryset.filter(Q(leave_date__isnull=True) | Q(leave_date__gte=today))
        if self.value() == "left":
            return queryset.filter(leave_date__lt=today)
        return queryset


# --- Assignment forms -----------------------------------------------------------


class AssignmentFieldsForm(forms.ModelForm):
    """An empty level means the role's default, filled before the model's checks."""

    class Meta:
        model = Assignment
        fields = ("employee", "role", "department", "project", "level", "start_date", "end_date", "allocation", "note")

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("level") and cleaned.get("role"):
            cleaned["level"] = cleaned["role"].default_level
        return cleaned


class AssignmentForm(AssignmentFieldsForm):
    """Validates an assignment against every rule, under the target's lock.

    A new level for an assignment under way since before today changes from today (``level_change``): the old
    level stays on record until yesterday, and the end date, allocation and note changed with it go to the new
    period. The person, role, target and start date correct the whole record, so they change alone.
    """

    #: What a change of level from today carries to the new period.
    CARRIED = ("end_date", "allocation", "note")

    level_change: dict | None = None

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            self.level_change = self._level_change()
            if self.level_change is None:
                services.assignment_validate(self.instance)
                return
            stored = copy.copy(self.level_change["assignment"])  # the save starts again from the stored row
            earlier, successor = services.assignment_level_change(**{**self.level_change, "assignment": stored})
            services.assignment_validate(earlier, pending=[successor])
            services.assignment_validate(successor, pending=[earlier])
        except ValidationError as error:
            self.level_change = None
            add_validation_error(self, error)

    def _level_change(self) -> dict | None:
        """The arguments of ``services.assignment_change_level`` when the level changes on an assignment under way
        since before today."""
        today = timezone.localdate()
        stored = self.initial
        if self.instance.pk is None or self.cleaned_data["level"] == stored["level"] or stored["start_date"] >= today:
            return None
        end = self.cleaned_data.get("end_date")
        if stored["end_date"] is not None and stored["end_date"] < today:
            if end is None or end >= today:
                raise ValidationError(
                    {
                        "level": _(
                            "This assignment ended on %(end)s: reopen it and change its level apart, so that the "
                            "level it had until then stays on record."
                        )
                        % {"end": stored["end_date"].isoformat()}
                    }
                )
            return None  # a record of the past, corrected whole: no level of it runs from today
        corrected = [f for f in ("employee", "role", "department", "project", "start_date") if f in self.changed_data]
        if corrected:
            raise ValidationError(
                {
                    "level": _(
                        "Change the level of an assignment under way on its own: the new level runs from today and "
                        "the old one stays on record, while a new %(fields)s would correct the whole record."
                    )
                    % {"fields": ", ".join(str(self.fields[f].label).lower() for f in corrected)}
                }
            )
        if "end_date" in self.changed_data and end is not None and end < today:
            raise ValidationError(
                {
                    "end_date": _(
                        "The new level runs from today, %(today)s, so it cannot end before then; to end the assignment "
                        "earlier, change its end date on its own."
                    )
                    % {"today": today.isoformat()}
                }
            )
        return {
            "assignment": Assignment.objects.with_related().get(pk=self.instance.pk),
            "level": self.cleaned_data["level"],
            "on_date": today,
            "changes": {f: self.cleaned_data[f] for f in self.CARRIED if f in self.changed_data},
        }


class AssignmentInlineFormSet(forms.BaseInlineFormSet):
    """New assignments added on an employee, department or project page,
    validated against the database and against each other."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        changed = [f for f in self.forms if f.has_changed() and not self._should_delete_form(f)]
        pending = [f.instance for f in changed]
        services.lock_for(pending)
        for form in changed:
            try:
                services.assignment_validate(form.instance, pending=pending)
            except ValidationError as error:
                add_validation_error(form, error)

    def save_new(self, form, commit=True):
        instance = super().save_new(form, commit=False)
        if commit:
            services.assignment_save(instance, pending=[f.instance for f in self.forms if f.instance.pk is None])
        return instance


ASSIGNMENT_COLUMNS = ("employee", "role", "department", "project", "level", "start_date", "end_date", "allocation")


def inline_columns(fk_name: str) -> list[str]:
    """On a project's page the department column says nothing, and vice versa."""
    hidden = {fk_name, {"project": "department", "department": "project"}.get(fk_name)}
    return [f for f in ASSIGNMENT_COLUMNS if f not in hidden]


class HeldAssignmentInline(admin.TabularInline):
    """The assignments already on record, read-only: they change through the
    assignment page and its actions, so history stays the record."""

    model = Assignment
    extra = 0
    can_delete = False
    show_change_link = True
    view_on_site = False
    verbose_name = _("assignment on record")
    verbose_name_plural = _("assignments on record")

    def get_fields(self, request, obj=None):
        return inline_columns(self.fk_name)

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).with_related().order_by("-start_date", "-pk")


class NewAssignmentInline(admin.TabularInline):
    model = Assignment
    form = AssignmentFieldsForm
    formset = AssignmentInlineFormSet
    extra = 1
    can_delete = False
    autocomplete_fields = ("employee", "role", "department", "project")
    verbose_name = _("new assignment")
    verbose_name_plural = _("new assignments")

    def get_fields(self, request, obj=None):
        return inline_columns(self.fk_name)

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **picker_options(self, db_field, request, kwargs))

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)


def assignment_inlines(fk_name: str) -> list[type[admin.TabularInline]]:
    held = type(f"Held{fk_name.title()}AssignmentInline", (HeldAssignmentInline,), {"fk_name": fk_name})
    new = type(f"New{fk_name.title()}AssignmentInline", (NewAssignmentInline,), {"fk_name": fk_name})
    return [held, new]


# --- Hand-over ---------------------------------------------------------------------


class HandOverForm(forms.Form):
    successor = EmployeeChoiceField(
        label=_("Successor"),
        queryset=Employee.objects.all(),
        widget=SafeAutocompleteSelect(Assignment._meta.get_field("employee"), admin.site),
        help_text=_("Who takes over from the hand-over date."),
    )
    on_date = forms.DateField(
        label=_("From"),
        widget=AdminDateWidget,
        help_text=_("First day the successor holds the assignments."),
    )


def hand_over_view(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    hand_over,
    description: str,
) -> TemplateResponse | None:
    """The intermediate page of the "hand over to…" actions.

    ``hand_over(successor, on_date)`` calls the service and returns how many
    assignments changed hands; a ``ValidationError`` shows on the form and,
    the service being atomic, leaves everything as it was.
    """
    if "apply" in request.POST:
        form = HandOverForm(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    count = hand_over(form.cleaned_data["successor"], form.cleaned_data["on_date"])
            except ValidationError as error:
                add_validation_error(form, error)
            else:
                successor = form.cleaned_data["successor"]
                modeladmin.message_user(
                    request,
                    ngettext(
                        "%(count)d assignment handed over to %(successor)s (%(number)s) from %(date)s.",
                        "%(count)d assignments handed over to %(successor)s (%(number)s) from %(date)s.",
                        count,
                    )
                    % {
                        "count": count,
                        "successor": successor,
                        "number": successor.employee_number,
                        "date": date_format(form.cleaned_data["on_date"]),
                    },
                    messages.SUCCESS,
                )
                return None
    else:
        form = HandOverForm(initial={"on_date": timezone.localdate()})
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Hand over to…"),
        "description": description,
        "objects": queryset,
        "form": form,
        "media": modeladmin.media + form.media,
        "opts": modeladmin.model._meta,
        "action": request.POST.get("action"),
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/org/hand_over.html", context)


# --- Model admins ------------------------------------------------------------------


def folded(*names: str) -> tuple[str, ...]:
    """Search fields matched without regard to case or accents, on SQLite as MariaDB's collation matches them
    (org.filters' ``folded_icontains``; the same SQL as ``icontains`` on MariaDB)."""
    return tuple(f"{name}__folded_icontains" for name in names)


def _say_search_was_cut(request: HttpRequest) -> None:
    """On a list page (not an autocomplete's answer, which shows no messages): the search was too long."""
    if getattr(request.resolver_match, "url_name", "").endswith("_changelist"):
        messages.warning(request, search_cut_message())


class HistoryValues(HistoricalRecordContextHelper):
    """The values of a change on a history page: an empty one as "—" (simple-history calls a foreign key that was
    empty a "Deleted employee (pk=None)"), a choice by its label."""

    def prepare_delta_change_value(self, change, value):
        if value is None or value == "" or (isinstance(value, DeletedObject) and value.pk is None):
            return "—"
        field = self.model._meta.get_field(change.field)
        if field.choices and not isinstance(value, DeletedObject):
            return dict(field.flatchoices).get(value, value)
        return super().prepare_delta_change_value(change, value)


class ScopedAdmin(ImportAdminMixin, SimpleHistoryAdmin):
    """A model admin whose rows are cut to the user's scope (org.access) by ``in_scope``; a row outside it answers
    404 on its change, delete and history pages, as if it did not exist. A past version is read, never saved."""

    object_history_template = "admin/org/object_history.html"
    object_history_list_template = "admin/org/object_history_list.html"

    def get_historical_record_context_helper(self, request, historical_record):
        return HistoryValues(self.model, historical_record)

    def history_view_title(self, request, obj):
        return gettext("Change history: %(object)s") % {"object": obj}

    def history_form_view_title(self, request, obj):
        return gettext("%(object)s as it was then") % {"object": obj}

    def in_scope(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset

    def get_queryset(self, request):
        return self.in_scope(request, super().get_queryset(request))

    def get_changelist_instance(self, request):
        """Django's list, a lookup it cannot run (a year -1 or beyond any integer, in the address) answered as any
        wrong lookup is, by the list with an error flag: Django catches only some of them, the rest were a 500."""
        try:
            return super().get_changelist_instance(request)
        except (ValueError, OverflowError) as exc:
            raise IncorrectLookupParameters(exc) from exc

    def save_form(self, request, form, change):
        """The form's instance; saved unchanged (Save on a form left as it was), it writes no audit record: a
        change that is none is no history (django-simple-history skips instances marked so)."""
        obj = super().save_form(request, form, change)
        if change and not form.has_changed():
            obj.skip_history_when_saving = True
        return obj

    def response_action(self, request, queryset):
        """Django's actions, a selected id that cannot be one ("abc") left out as if not ticked: Django's own
        filters by it and fails with a 500."""
        selected = request.POST.getlist(ACTION_CHECKBOX_NAME)
        ids = [value for value in selected if could_be_id(self.model._meta.pk, value)]
        if ids != selected:
            request.POST = request.POST.copy()
            request.POST.setlist(ACTION_CHECKBOX_NAME, ids)
        return super().response_action(request, queryset)

    def get_search_results(self, request, queryset, search_term):
        """Django's search, of the search's first words only (org.filters.search_words), as on the staff pages:
        a thousand words made a query the database refused, answered as an outage."""
        words, cut = search_words(search_term)
        if cut:
            _say_search_was_cut(request)
        return super().get_search_results(request, queryset, " ".join(words))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **picker_options(self, db_field, request, kwargs))

    def history_in_scope(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """The rows whose history pages the user may read: by default those of ``get_queryset``."""
        return queryset

    def _visible_or_404(self, request: HttpRequest, object_id: str | None, *, history: bool = False) -> None:
        if object_id is None:
            return
        try:  # an id that cannot be one (simple-history's pages would fail on it with a 500)
            pk = self.model._meta.pk.to_python(unquote(object_id))
        except ValidationError:
            raise Http404 from None
        if scope_of(request.user).everything:
            return  # HR sees everything, the history of deleted rows included
        visible = self.get_queryset(request)
        if history:
            visible = self.history_in_scope(request, visible)
        if not visible.filter(pk=pk).exists():
            raise Http404

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._visible_or_404(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._visible_or_404(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        self._visible_or_404(request, object_id, history=True)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # Reverting is disabled (SIMPLE_HISTORY_REVERT_DISABLED), but that only hides the button: simple-history's
        # view saves a POST after checking the view permission alone. A version is for reading.
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        self._visible_or_404(request, object_id, history=True)
        try:  # simple-history's view would fail on a version id that cannot be one with a 500
            self.model.history.model._meta.pk.to_python(version_id)
        except ValidationError:
            raise Http404 from None
        return super().history_form_view(request, object_id, version_id, extra_context)


def _head_name(target_field: str) -> Subquery:
    today = timezone.localdate()
    heads = (
        Assignment.objects.as_of(today)
        .accountable()
        .filter(**{target_field: OuterRef("pk")})
        .annotate(name=Concat("employee__first_name", Value(" "), "employee__last_name", output_field=CharField()))
        .values("name")[:1]
    )
    return Subquery(heads, output_field=CharField())


@admin.register(Department)
class DepartmentAdmin(ScopedAdmin):
    list_display = ("code", "name", "parent", "head", "active")
    list_select_related = ("parent",)
    list_filter = ("active", DepartmentSelfSubtreeFilter)
    search_fields = folded("code", "name")
    autocomplete_fields = ("parent",)
    inlines = assignment_inlines("department")

    def in_scope(self, request, queryset):
        return scope_of(request.user).departments(queryset)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(head_name=_head_name("department"))

    @admin.display(description=_("head (Accountable today)"), ordering="head_name")
    def head(self, obj: Department) -> str:
        return obj.head_name or "—"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "active" in form.changed_data and not obj.active:
            for in_use in selectors.departments_still_in_use([obj]):
                self.message_user(request, str(in_use), messages.WARNING)


class EmployeeForm(forms.ModelForm):
    """Refuses a leave date the leaver's assignments cannot honour."""

    class Meta:
        model = Employee
        fields = (
            "employee_number",
            "first_name",
            "last_name",
            "work_email",
            "job_title",
            "department",
            "manager",
            "hire_date",
            "leave_date",
            "user",
        )

    def clean(self):
        cleaned = super().clean()
        leave_date = cleaned.get("leave_date")
        if leave_date and "leave_date" in self.changed_data and self.instance.pk:
            problems = services.employee_leave_problems(employee=self.instance, leave_date=leave_date)
            if problems:
                self.add_error("leave_date", problems)
        return cleaned


@admin.register(Employee)
class EmployeeAdmin(ScopedAdmin):  # every employee may be picked for an assignment: not cut to a scope
    form = EmployeeForm

    list_display = (
        "employee_number",
        "last_name",
        "first_name",
        "work_email",
        "job_title",
        "department",
        "manager",
        "leave_date",
    )
    list_display_links = ("employee_number", "last_name")
    list_select_related = ("department", "manager")
    list_filter = (EmployeeStatusFilter, DepartmentSubtreeFilter)
    search_fields = folded("employee_number", "first_name", "last_name", "work_email", "job_title")
    autocomplete_fields = ("department", "manager", "user")
    inlines = assignment_inlines("employee")
    actions = ("hand_over",)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A saved employee page locks what it may write before its checks take any lock, in the order every writer
        keeps: the targets of what the person holds and of the rows added on the page, then the person. (The
        form's leave-date check locks the person; the new rows would lock their targets after it.)"""
        if request.method != "POST" or not str(object_id or "").isdigit():
            return super().changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic(using=router.db_for_write(self.model)):
            named = {
                kind: [int(v) for k, v in request.POST.items() if k.endswith(f"-{kind}") and v.isdigit()]
                for kind in ("department", "project")
            }
            services.lock_for(
                Assignment.objects.filter(employee_id=int(object_id)).only(*services.LOCKED_BY),
                department_ids=named["department"],
                project_ids=named["project"],
                employee_ids=[int(object_id)],
            )
            return super().changeform_view(request, object_id, form_url, extra_context)

    def autocomplete_label(self, obj: Employee) -> str:
        """Two people of the same name told apart (projman.admin_site.LabelledAutocompleteJsonView)."""
        return obj.name_and_number

    def history_in_scope(self, request, queryset):
        """As on the staff pages: a manager reads the changes of the employees whose home department they manage."""
        return scope_of(request.user).employees(queryset)

    def save_model(self, request, obj: Employee, form, change):
        """A new leave date on someone on record goes through the service, which ends what the person still holds
        and saves the other changed fields with it: one change in the audit trail. (A new employee holds
        nothing yet.)"""
        if not change or obj.leave_date is None or "leave_date" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return
        others = {name: getattr(obj, name) for name in form.changed_data if name != "leave_date"}
        ended = services.employee_mark_left(employee=obj, leave_date=obj.leave_date, changes=others)
        obj.refresh_from_db()
        if ended:
            self.message_user(
                request,
                ngettext(
                    "%(count)d assignment ended on the leave date.",
                    "%(count)d assignments ended on the leave date.",
                    ended,
                )
                % {"count": ended},
            )

    @admin.action(description=_("Hand over all their assignments to…"), permissions=["change"])
    def hand_over(self, request, queryset):
        leavers = list(queryset)

        def run(successor, on_date):
            return len(services.employees_hand_over(leavers=leavers, successor=successor, on_date=on_date))

        return hand_over_view(
            self,
            request,
            queryset,
            run,
            _("Every assignment these people hold on or after the date passes to the successor."),
        )


@admin.register(Project)
class ProjectAdmin(ScopedAdmin):
    list_display = ("code", "name", "department", "status", "accountable", "start_date", "end_date")
    list_select_related = ("department",)
    list_filter = ("status", DepartmentSubtreeFilter)
    search_fields = (*folded("code", "name"), "description")
    autocomplete_fields = ("department",)
    date_hierarchy = "start_date"
    inlines = assignment_inlines("project")

    def in_scope(self, request, queryset):
        return scope_of(request.user).projects(queryset)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(head_name=_head_name("project"))

    @admin.display(description=_("Accountable today"), ordering="head_name")
    def accountable(self, obj: Project) -> str:
        return obj.head_name or "—"


class RoleForm(forms.ModelForm):
    """Refuses a change the assignments on record would break (org.services.role_problems)."""

    class Meta:
        model = Role
        fields = ("name", "description", "applies_to", "default_level", "single_holder")

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and {"applies_to", "single_holder"} & set(self.changed_data) and "applies_to" in cleaned:
            problems = services.role_problems(
                role=self.instance, applies_to=cleaned["applies_to"], single_holder=cleaned.get("single_holder", False)
            )
            for field, messages_ in problems.items():
                self.add_error(field, messages_)
        return cleaned


@admin.register(Role)
class RoleAdmin(ScopedAdmin):  # roles apply company-wide: not cut to a scope
    form = RoleForm
    list_display = ("name", "applies_to", "default_level", "single_holder")
    list_filter = ("applies_to", "default_level", "single_holder")
    search_fields = (*folded("name"), "description")


class AssignmentChangeList(ChangeList):
    """The employee and role of a page fetched after it (two small queries).

    Joined in, they make MariaDB's optimizer start from the small role table
    and sort every matching assignment for one page (0.3 to 0.5 s on 100,000
    assignments); the outer joins to the target cannot be reordered, so the
    page is read straight off the start-date index.
    """

    def get_queryset(self, request, exclude_parameters=None):
        return super().get_queryset(request, exclude_parameters).prefetch_related("employee", "role")


@admin.register(Assignment)
class AssignmentAdmin(ScopedAdmin):
    form = AssignmentForm
    list_display = ("employee", "role", "target_link", "level", "start_date", "end_date", "allocation")
    list_select_related = ("department", "project")  # employee and role: AssignmentChangeList
    ordering = ("-start_date", "-id")  # one direction, so the start-date index gives the order
    show_full_result_count = False  # "N of M": a second count over every assignment
    list_filter = (AssignmentStatusFilter, "level", "role", AssignmentTargetSubtreeFilter)
    search_fields = (
        "employee__employee_number",
        "employee__first_name",
        "employee__last_name",
        "role__name",
        "department__code",
        "department__name",
        "project__code",
        "project__name",
    )
    autocomplete_fields = ("employee", "role", "department", "project")
    # No date_hierarchy: its year list and bounds are a DISTINCT and a MIN/MAX over every matching assignment
    # (70 ms of the 230 ms this page took on 100,000 assignments); the current/past/future filter and the staff
    # pages' as-of date answer "when" instead.
    actions = ("end_today", "hand_over")
    view_on_site = False

    def get_changelist(self, request, **kwargs):
        return AssignmentChangeList

    def in_scope(self, request, queryset):
        return scope_of(request.user).assignments(queryset)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:  # a posted form changes the instance before it is drawn again with its errors
            obj.covered_as_stored = scope_of(request.user).covers(obj)
        return obj

    def has_change_permission(self, request, obj=None):
        """In the user's scope as stored: a form posted with a target outside it (refused by the target's choices)
        is drawn again editable, with that error, not as a read-only page without it."""
        if not super().has_change_permission(request, obj):
            return False
        if obj is None:
            return True
        return obj.covered_as_stored if hasattr(obj, "covered_as_stored") else scope_of(request.user).covers(obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """A target must lie in the user's scope: a crafted value outside it is "not one of the available choices"."""
        scope = scope_of(request.user)
        if db_field.name == "department":
            kwargs["queryset"] = scope.departments(Department.objects.all())
        elif db_field.name == "project":
            kwargs["queryset"] = scope.projects(Project.objects.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        """The staff pages' search (org.filters.search_assignments): names, numbers and emails by their start,
        departments, projects and roles anywhere — resolved to ids first, not matched across every joined row."""
        if not search_term.strip():
            return queryset, False
        if search_words(search_term)[1]:
            _say_search_was_cut(request)
        return search_assignments(queryset, search_term), False

    @admin.display(description=_("target"))
    def target_link(self, obj: Assignment) -> str:
        target = obj.target
        url_name = "admin:org_department_change" if obj.department_id else "admin:org_project_change"
        return format_html('<a href="{}">{}</a>', reverse(url_name, args=[target.pk]), target)

    def has_delete_permission(self, request, obj=None):
        # History is the record: assignments are ended, not deleted. A superuser
        # may still remove one entered by mistake; the audit trail keeps it.
        return request.user.is_superuser

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        if not form.level_change:
            services.assignment_save(obj)
            return
        new = services.assignment_change_level(**form.level_change)
        obj.refresh_from_db()
        self.message_user(
            request,
            _("%(level)s from %(date)s: the assignment at %(old)s stays on record until %(until)s.")
            % {
                "level": new.get_level_display(),
                "date": new.start_date.isoformat(),
                "old": obj.get_level_display(),
                "until": obj.end_date.isoformat(),
            },
            messages.SUCCESS,
        )

    @admin.action(description=_("End today"), permissions=["change"])
    def end_today(self, request, queryset):
        today = timezone.localdate()
        try:
            ended = services.assignments_end(assignments=queryset.with_related(), end_date=today)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("%(count)d assignment ended today.", "%(count)d assignments ended today.", ended)
            % {"count": ended},
            messages.SUCCESS,
        )

    @admin.action(description=_("Hand over to…"), permissions=["change"])
    def hand_over(self, request, queryset):
        selected = list(queryset.with_related())

        def run(successor, on_date):
            return len(services.assignments_hand_over(assignments=selected, successor=successor, on_date=on_date))

        return hand_over_view(
            self, request, queryset, run, _("The selected assignments pass to the successor from the date.")
        )

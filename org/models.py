"""The org domain: who holds which role on which department or project, and when.

Rules the database can hold are named constraints here. The rules that span
rows and dates (one Accountable per target, single-holder roles, no self
overlap) live in ``org.services`` under a row lock on the target.
"""

from __future__ import annotations

import datetime
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import connections, models, router
from django.db.models import F, Func, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

# Descriptions and notes: the forms refuse more, and so does an import cell (org.imports.reading.MAX_FIELD), so
# whatever is stored exports and imports back.
LONG_TEXT_LENGTH = 10_000


#: Codes and numbers name their rows in the staff pages' addresses (``/employees/<number>/``): no "/" in them,
#: and not "." or "..", which a browser reads as this folder or the one above it.
no_slash = RegexValidator(
    r"/|\A\.\.?\Z",
    inverse_match=True,
    code="slash",
    message=_(
        "“%(value)s” would break the address of its page (it contains “/”, or is “.” or “..”); use letters, digits, "
        "dashes or dots instead."
    ),
)


def visible(value: str) -> None:
    """Refuses a key holding a character that shows as nothing or as a plain space (a zero-width space, a
    no-break space, a control character): "ENG" with one would look like ENG and be another row."""
    if value.isprintable():
        return
    char = next(c for c in value if not c.isprintable() and c != " ")
    message = _(
        "“%(value)s” holds an invisible or unusual character, %(char)s, at position %(position)d; type it again "
        "without it."
    )
    raise _refused(value, char, message, "invisible")


def _refused(value: str, char: str, message: str, code: str) -> ValidationError:
    """The error of a validator refusing ``value`` for its first ``char``, named with its position."""
    params = {"value": value, "char": character_name(char), "position": value.index(char) + 1}
    return ValidationError(message, code=code, params=params)


def control_character(value: str) -> str | None:
    """The first control character of ``value`` but a tab or a line break, if any: one never typed, that comes from
    a file read in another encoding than its own, or from a program."""
    return next((c for c in value if unicodedata.category(c) == "Cc" and c not in "\t\n\r"), None)


def no_control(value: str) -> None:
    """Refuses text holding a control character (``control_character``), which an import refuses too: a name
    saved with one could be exported but not imported back."""
    if value.isprintable() or (char := control_character(value)) is None:
        return
    message = _("“%(value)s” holds a control character, %(char)s, at position %(position)d; type it again without it.")
    raise _refused(value, char, message, "control")


#: The years a date may fall in: any date of a company's records, and none a typo makes (0224 for 2024).
EARLIEST_DATE, LATEST_DATE = datetime.date(1900, 1, 1), datetime.date(2199, 12, 31)


IMPLAUSIBLE_DATE = _("%(value)s is outside the years ProjMan keeps, %(earliest)s to %(latest)s; check the year.")


def is_plausible(value: datetime.date) -> bool:
    return EARLIEST_DATE <= value <= LATEST_DATE


def plausible_date(value: datetime.date) -> None:
    if not is_plausible(value):
        raise ValidationError(
            IMPLAUSIBLE_DATE,
            code="implausible",
            params={"value": value.isoformat(), "earliest": EARLIEST_DATE.year, "latest": LATEST_DATE.year},
        )


def character_name(char: str) -> str:
    """U+200B ZERO WIDTH SPACE: how a message names a character that cannot be seen."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'CONTROL CHARACTER')}"


class FoldedUnique(models.Model):
    """A model whose unique text fields (``folded_unique``) are told apart as MariaDB's collation tells them apart:
    without regard to case or accents ("ENG" and "eng", "Équipe" and "equipe" are one code). MariaDB's unique
    indexes refuse such a twin by themselves, and Django's check finds it there; SQLite compares bytes, so on
    SQLite the check folds the column and the value (``org.filters.FOLD_FUNCTION``) and names the twin."""

    folded_unique: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def validate_unique(self, exclude: set[str] | None = None) -> None:
        if connections[router.db_for_write(type(self))].vendor != "sqlite":
            super().validate_unique(exclude)
            return
        from org.filters import FOLD_FUNCTION
        from org.tables import collation_key

        errors: dict[str, list[ValidationError]] = {}
        try:
            super().validate_unique(exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        for name in self.folded_unique:
            value = getattr(self, name)
            if name in errors or (exclude and name in exclude) or not isinstance(value, str) or not value:
                continue
            twin = (
                type(self)
                ._default_manager.exclude(pk=self.pk)
                .alias(folded=Func(F(name), function=FOLD_FUNCTION, output_field=models.CharField()))
                .filter(folded=collation_key(value))
                .values_list(name, flat=True)
                .first()
            )
            if twin is not None:
                message = gettext(
                    "%(name)s “%(twin)s” already exists; “%(value)s” differs from it only in case or accents."
                )
                field = type(self)._meta.get_field(name)
                errors[name] = [
                    ValidationError(
                        message % {"name": capfirst(field.verbose_name), "twin": twin, "value": value}, code="unique"
                    )
                ]
        if errors:
            raise ValidationError(errors)


class LowercaseEmailField(models.EmailField):
    """An email stored in lower case, so a plain unique index is case-insensitive
    on every backend (MariaDB ignores functional unique indexes)."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.strip().lower() if isinstance(value, str) else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value.strip().lower() if isinstance(value, str) else value


class Level(models.TextChoices):
    RESPONSIBLE = "R", _("Responsible")
    ACCOUNTABLE = "A", _("Accountable")
    CONSULTED = "C", _("Consulted")
    INFORMED = "I", _("Informed")


class DepartmentQuerySet(models.QuerySet):
    def active(self) -> DepartmentQuerySet:
        return self.filter(active=True)


class Department(FoldedUnique):
    folded_unique = ("code",)
    code = models.CharField(
        _("code"),
        max_length=20,
        unique=True,
        validators=[no_slash, visible],
        help_text=_("Short unique code, e.g. FIN."),
    )
    name = models.CharField(_("name"), max_length=200, validators=[no_control])
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text=_("The department this one belongs to; empty for a top-level department."),
    )
    active = models.BooleanField(_("active"), default=True, help_text=_("Inactive departments are kept for history."))
    # The audit trail is read by object (its id), and for assignments by where they were too
    # (org.selectors.history_sources). Indexes on its copies of the other indexed fields would only slow every
    # write: an import writes a history row per row, and those indexes made writing them cost as much as the rows.
    history = HistoricalRecords(no_db_index=["code", "parent"])

    objects = DepartmentQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self) -> None:
        from org.services import department_check_parent

        department_check_parent(department=self, parent=self.parent)


class Employee(FoldedUnique):
    folded_unique = ("employee_number",)
    employee_number = models.CharField(
        _("employee number"),
        max_length=30,
        unique=True,
        validators=[no_slash, visible],
        help_text=_("The number HR gives this person."),
    )
    first_name = models.CharField(_("first name"), max_length=100, validators=[no_control])
    last_name = models.CharField(_("last name"), max_length=100, validators=[no_control])
    work_email = LowercaseEmailField(
        _("work email"), unique=True, help_text=_("Unique, compared without regard to case.")
    )
    job_title = models.CharField(_("job title"), max_length=200, blank=True, validators=[no_control])
    department = models.ForeignKey(
        Department,
        verbose_name=_("home department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    manager = models.ForeignKey(
        "self",
        verbose_name=_("manager"),
        null=True,
        blank=True,
        # Not SET_NULL: that cleared the reports' manager with no audit-trail row. Reassign the reports first.
        on_delete=models.PROTECT,
        related_name="reports",
    )
    hire_date = models.DateField(_("hire date"), null=True, blank=True, validators=[plausible_date])
    leave_date = models.DateField(
        _("leave date"),
        null=True,
        blank=True,
        validators=[plausible_date],
        help_text=_("Last working day. Setting it ends the person's open assignments."),
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="employee",
    )
    history = HistoricalRecords(no_db_index=["employee_number", "work_email", "department", "manager", "user"])

    class Meta:
        ordering = ["last_name", "first_name", "employee_number"]
        verbose_name = _("employee")
        verbose_name_plural = _("employees")
        # Lists in name order read the first page off this index instead of sorting the whole staff.
        # The search box matches the start of a first or last name through these too.
        indexes = [
            models.Index(fields=["last_name", "first_name", "employee_number"], name="employee_name"),
            models.Index(fields=["first_name"], name="employee_first_name"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(leave_date__isnull=True) | Q(hire_date__isnull=True) | Q(leave_date__gte=F("hire_date")),
                name="employee_leave_after_hire",
                violation_error_message=_("The leave date cannot be before the hire date."),
            ),
            models.CheckConstraint(
                condition=Q(work_email=Lower("work_email")),
                name="employee_email_lowercase",
                violation_error_message=_("The work email must be stored in lower case."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    #: The leave date as read from the database (``from_db``), to tell one edited in hand from one changed since.
    loaded_leave_date: object = models.NOT_PROVIDED

    @classmethod
    def from_db(cls, db, field_names, values):
        employee = super().from_db(db, field_names, values)
        employee.loaded_leave_date = employee.__dict__.get("leave_date", models.NOT_PROVIDED)
        return employee

    def leave_date_edited(self) -> bool:
        """Whether this object's leave date was set in hand (a form's) since it was read from the database."""
        return self.loaded_leave_date is not models.NOT_PROVIDED and self.leave_date != self.loaded_leave_date

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def name_and_number(self) -> str:
        """How pickers show a person: two of the same name are told apart by their number."""
        return f"{self.full_name} ({self.employee_number})"

    def clean(self) -> None:
        from org.services import employee_check_manager

        employee_check_manager(employee=self, manager=self.manager)


class ProjectStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    ACTIVE = "active", _("Active")
    ON_HOLD = "on_hold", _("On hold")
    CLOSED = "closed", _("Closed")


class Project(FoldedUnique):
    folded_unique = ("code",)
    code = models.CharField(_("code"), max_length=20, unique=True, validators=[no_slash, visible])
    name = models.CharField(_("name"), max_length=200, validators=[no_control])
    description = models.TextField(_("description"), blank=True, max_length=LONG_TEXT_LENGTH)
    department = models.ForeignKey(
        Department,
        verbose_name=_("owning department"),
        on_delete=models.PROTECT,
        related_name="projects",
    )
    status = models.CharField(_("status"), max_length=10, choices=ProjectStatus.choices, default=ProjectStatus.PROPOSED)
    start_date = models.DateField(_("start date"), null=True, blank=True, validators=[plausible_date])
    end_date = models.DateField(_("end date"), null=True, blank=True, validators=[plausible_date])
    history = HistoricalRecords(no_db_index=["code", "department"])

    class Meta:
        ordering = ["code"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ProjectStatus.values),
                name="project_status_valid",
                violation_error_message=_("Unknown project status."),
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(start_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="project_end_after_start",
                violation_error_message=_("The end date cannot be before the start date."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class AppliesTo(models.TextChoices):
    DEPARTMENT = "department", _("Departments")
    PROJECT = "project", _("Projects")
    BOTH = "both", _("Departments and projects")


class Role(FoldedUnique):
    folded_unique = ("name",)
    name = models.CharField(_("name"), max_length=100, unique=True, validators=[visible])
    description = models.TextField(_("description"), blank=True, max_length=LONG_TEXT_LENGTH)
    applies_to = models.CharField(_("applies to"), max_length=10, choices=AppliesTo.choices, default=AppliesTo.BOTH)
    default_level = models.CharField(
        _("default level"),
        max_length=1,
        choices=Level.choices,
        default=Level.RESPONSIBLE,
        help_text=_("The RACI level a new assignment of this role starts with."),
    )
    single_holder = models.BooleanField(
        _("single holder"),
        default=False,
        help_text=_("Only one person may hold this role on a department or project at a time."),
    )
    history = HistoricalRecords(no_db_index=["name"])

    class Meta:
        ordering = ["name"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self) -> str:
        return self.name

    def applies_to_target(self, target: Department | Project) -> bool:
        kind = AppliesTo.DEPARTMENT if isinstance(target, Department) else AppliesTo.PROJECT
        return self.applies_to in (AppliesTo.BOTH, kind)


Target = Department | Project


class AssignmentQuerySet(models.QuerySet):
    def as_of(self, date: datetime.date) -> AssignmentQuerySet:
        """Assignments in force on ``date`` (both ends inclusive)."""
        return self.filter(Q(end_date__isnull=True) | Q(end_date__gte=date), start_date__lte=date)

    def current(self) -> AssignmentQuerySet:
        return self.as_of(timezone.localdate())

    def past(self, date: datetime.date | None = None) -> AssignmentQuerySet:
        return self.filter(end_date__lt=date or timezone.localdate())

    def future(self, date: datetime.date | None = None) -> AssignmentQuerySet:
        return self.filter(start_date__gt=date or timezone.localdate())

    def open_on(self, date: datetime.date) -> AssignmentQuerySet:
        """Not ended before ``date``: in force on it, or starting later."""
        return self.filter(Q(end_date__isnull=True) | Q(end_date__gte=date))

    def overlapping(self, start: datetime.date, end: datetime.date | None) -> AssignmentQuerySet:
        qs = self.filter(Q(end_date__isnull=True) | Q(end_date__gte=start))
        return qs if end is None else qs.filter(start_date__lte=end)

    def for_target(self, target: Target) -> AssignmentQuerySet:
        if isinstance(target, Department):
            return self.filter(department=target)
        if isinstance(target, Project):
            return self.filter(project=target)
        raise TypeError(f"{target!r} is neither a Department nor a Project")

    def accountable(self) -> AssignmentQuerySet:
        return self.filter(level=Level.ACCOUNTABLE)

    def with_related(self) -> AssignmentQuerySet:
        return self.select_related("employee", "role", "department", "project")

    def with_targets(self) -> AssignmentQuerySet:
        """``with_related`` but the employee: for an employee's own assignments (``employee.assignments``),
        whose rows come with it."""
        return self.select_related("role", "department", "project")

    def with_related_fetched_after(self) -> AssignmentQuerySet:
        """``with_related``, with the employee and role read apart from the rows of the page.

        With the inner joins to employee and role MariaDB's optimizer starts
        from the small role table and sorts every matching assignment for one
        page; without them (the outer joins to the target cannot reorder) it
        reads the page straight off an index in the order asked for. A page
        (a slice) reads its ids so, then those rows with everything joined: two
        queries. A whole list (an export) fetches employees and roles after its
        rows, a query each, as a list of ids could outgrow one query.
        """
        clone = self.select_related("department", "project")
        clone._iterable_class = _FetchedAfterIterable
        return clone


class _FetchedAfterIterable(models.query.ModelIterable):
    """The rows of ``with_related_fetched_after``."""

    def __iter__(self):
        queryset = self.queryset
        if not queryset.query.is_sliced:
            whole = queryset.prefetch_related("employee", "role")
            whole._iterable_class = models.query.ModelIterable
            return iter(whole)
        ids = list(queryset.values_list("pk", flat=True))
        joined = queryset.model.objects.using(queryset.db).with_related().filter(pk__in=ids).order_by()
        rows = {row.pk: row for row in joined}
        return (rows[pk] for pk in ids if pk in rows)  # a row deleted between the two reads is left out


class Assignment(models.Model):
    employee = models.ForeignKey(
        Employee, verbose_name=_("employee"), on_delete=models.PROTECT, related_name="assignments"
    )
    role = models.ForeignKey(Role, verbose_name=_("role"), on_delete=models.PROTECT, related_name="assignments")
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assignments",
        help_text=_("Fill in either a department or a project, not both."),
    )
    project = models.ForeignKey(
        Project,
        verbose_name=_("project"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assignments",
        help_text=_("Fill in either a department or a project, not both."),
    )
    level = models.CharField(
        _("RACI level"),
        max_length=1,
        choices=Level.choices,
        blank=True,
        help_text=_("Leave empty to use the role's default level."),
    )
    start_date = models.DateField(_("start date"), validators=[plausible_date])
    end_date = models.DateField(
        _("end date"),
        null=True,
        blank=True,
        validators=[plausible_date],
        help_text=_("Last day held (inclusive); empty while it lasts."),
    )
    allocation = models.PositiveSmallIntegerField(
        _("allocation %"), null=True, blank=True, help_text=_("Share of working time, 0–100.")
    )
    note = models.TextField(_("note"), blank=True, max_length=LONG_TEXT_LENGTH)
    history = HistoricalRecords(no_db_index=["role"])

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["-start_date", "id"]
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        constraints = [
            models.CheckConstraint(
                condition=Q(department__isnull=False, project__isnull=True)
                | Q(department__isnull=True, project__isnull=False),
                name="assignment_exactly_one_target",
                violation_error_message=_("An assignment targets exactly one department or one project."),
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="assignment_end_after_start",
                violation_error_message=_("The end date cannot be before the start date."),
            ),
            models.CheckConstraint(
                condition=Q(allocation__isnull=True) | Q(allocation__gte=0, allocation__lte=100),
                name="assignment_allocation_0_100",
                # Django formats the message with the constraint's name (%(name)s): a percent sign is doubled.
                violation_error_message=_("Allocation must be between 0 and 100 %%."),
            ),
            models.CheckConstraint(
                condition=Q(level__in=Level.values),
                name="assignment_level_valid",
                violation_error_message=_("The RACI level must be R, A, C or I."),
            ),
        ]
        indexes = [
            models.Index(fields=["project", "start_date"], name="assignment_project_start"),
            models.Index(fields=["department", "start_date"], name="assignment_department_start"),
            # A person's assignments by date, with what sums their workload on a day: no row read for it.
            models.Index(
                fields=["employee", "start_date", "end_date", "allocation"], name="assignment_employee_workload"
            ),
            models.Index(fields=["end_date"], name="assignment_end"),
            # "Who is responsible" lists the newest assignments in force first, straight off this index, which
            # also holds what tells whether each is in force and whose it is (the id, written out so the order
            # start date, id is the index's own): a search walks it without reading a row.
            models.Index(fields=["start_date", "id", "end_date", "employee"], name="assignment_start_in_force"),
            # Heads of departments and Accountables of projects: a few rows per target, found directly.
            models.Index(fields=["department", "level", "start_date"], name="assignment_department_level"),
            models.Index(fields=["project", "level", "start_date"], name="assignment_project_level"),
        ]

    def __str__(self) -> str:
        return self.describe(employee=self.employee, role=self.role, level=self.get_level_display(), target=self.target)

    def get_absolute_url(self) -> str:
        return reverse("admin:org_assignment_change", args=[self.pk])

    @staticmethod
    def describe(*, employee: object, role: object, level: str, target: object) -> str:
        """An assignment in words; also for its audit-trail rows (``org.selectors.change_history``)."""
        return gettext("%(employee)s — %(role)s (%(level)s) on %(target)s") % {
            "employee": employee,
            "role": role,
            "level": level,
            "target": target,
        }

    @property
    def target(self) -> Target | None:
        return self.department if self.department_id else self.project

    def is_active_on(self, date: datetime.date) -> bool:
        return self.start_date <= date and (self.end_date is None or self.end_date >= date)


# --- Imports waiting for confirmation -------------------------------------------


class PendingImport(models.Model):
    """A file uploaded in the admin, waiting between its dry run and its confirmation (``org.imports.pending``).

    It waits in the database, not on the disk of the app server that showed the preview, so that any app server
    can take the confirmation, and it is gone once confirmed or an hour old. Not domain data: no audit trail.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    format = models.CharField(max_length=20, blank=True)
    encoding = models.CharField(max_length=20, blank=True)
    member_role = models.CharField(max_length=100, blank=True)  # job history: the role of home-department stays
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    created = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.filename} ({self.kind}, {self.size} bytes)"


class PendingImportPart(models.Model):
    """One part of a waiting file: each stays well under MariaDB's largest packet (max_allowed_packet)."""

    pending = models.ForeignKey(PendingImport, on_delete=models.CASCADE, related_name="parts")
    number = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pending", "number"], name="pending_import_part_number")]

    def __str__(self) -> str:
        return f"{self.pending_id}/{self.number}"

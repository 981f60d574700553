"""Filter forms of the staff pages (django-filter).

No filter renders a ``<select>`` over employees or projects: those are reached
through the search box. Departments (a few hundred at most) and roles are short
enough for a select; the department choices come from one query.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, CharField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.lookups import IContains, IStartsWith
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext, pgettext
from django.utils.translation import gettext_lazy as _

from org import selectors
from org.models import Assignment, Department, Employee, Level, Project, ProjectStatus, Role
from org.tables import collation_key, fold

ANY = _("Any")

#: The SQL function that folds text on SQLite (``register_fold``).
FOLD_FUNCTION = "projman_fold"


def register_fold(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """On a new SQLite connection (``connection_created``, see ``org.apps``), define ``FOLD_FUNCTION``:
    ``collation_key``, the case- and accent-insensitive form of a text, for the search lookups."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(FOLD_FUNCTION, 1, _fold, deterministic=True)


def _fold(value: object) -> object:
    return fold(value) if isinstance(value, str) else value


def searched_text(word: str, connection: BaseDatabaseWrapper) -> str:
    """``word`` as the search lookups send it to ``connection``: folded on SQLite (``FoldedOnSQLite``)."""
    return collation_key(word) if connection.vendor == "sqlite" else word


class FoldedOnSQLite:
    """A search lookup that finds text without regard to case or accents on SQLite too, as MariaDB's collation
    does (SQLite's LIKE ignores the case of ASCII letters only): there both the column and the word are folded
    (``FOLD_FUNCTION``, ``searched_text``). On MariaDB it is the lookup it extends, the same SQL and parameters
    (its indexes answer a search for the start of a name). SQLite reads every row for these lookups either way.
    """

    def process_lhs(self, compiler, connection, lhs=None):
        sql, params = super().process_lhs(compiler, connection, lhs)
        return (f"{FOLD_FUNCTION}({sql})" if connection.vendor == "sqlite" else sql), params

    def get_db_prep_lookup(self, value, connection):
        sql, params = super().get_db_prep_lookup(value, connection)
        return sql, [searched_text(p, connection) if isinstance(p, str) else p for p in params]


class FoldedIStartsWith(FoldedOnSQLite, IStartsWith):
    pass


class FoldedIContains(FoldedOnSQLite, IContains):
    pass


# Under names of their own, keeping the lookup_name of the lookup each extends: the SQL operator comes from it.
CharField.register_lookup(FoldedIStartsWith, "folded_istartswith")
CharField.register_lookup(FoldedIContains, "folded_icontains")

#: How a word finds a person: the start of their first or last name, number or email. The indexes on those
#: columns answer that directly; a match anywhere inside would read the whole staff for every word.
PERSON_SEARCH = (
    "first_name__folded_istartswith",
    "last_name__folded_istartswith",
    "employee_number__folded_istartswith",
    "work_email__folded_istartswith",
)
#: A search looks for this many words at most, this many characters in all; the rest is left out, and the page
#: says so. Each word is a condition of its own (and, in the "who is responsible" search, a query of its own):
#: a thousand of them make a query SQLite refuses ("Expression tree is too large").
SEARCH_MAX_WORDS = 10
SEARCH_MAX_CHARS = 200
#: Up to this many matching rows per table, a search word is sent to the database as a list of ids for an index.
SEARCH_IDS = 100
#: Up to this many, as a list of ids to check each assignment against (MariaDB turns a longer list into a
#: temporary table: ``in_predicate_conversion_threshold``); beyond, as a subquery.
SEARCH_IDS_CHECKED = 1000
#: What the "who is responsible" search box looks in: the assignment's field → the lookups on its row.
SEARCH_TARGETS = {
    "employee": (Employee, PERSON_SEARCH),
    "department": (Department, ("code__folded_icontains", "name__folded_icontains")),
    "project": (Project, ("code__folded_icontains", "name__folded_icontains")),
    "role": (Role, ("name__folded_icontains",)),
}


class PlainSelect(forms.Select):
    """A ``<select>`` put together in Python.

    Django renders every option through a template, some 50 µs apiece: a
    tree of a few hundred departments made that the largest cost of a page.
    """

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        chosen = set(self.format_value(value))
        options = "".join(
            f'<option value="{escape(key)}"{" selected" if str(key) in chosen else ""}>{escape(label)}</option>'
            for key, label in self.choices
        )
        return mark_safe(
            f'<select name="{escape(name)}"{flatatt(self.build_attrs(self.attrs, attrs))}>{options}</select>'
        )


class _PlainInput:
    """An ``<input>`` put together in Python, for the same reason as ``PlainSelect``."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        attributes = {"type": self.input_type, "name": name, **self.build_attrs(self.attrs, attrs)}
        formatted = self.format_value(value)
        if formatted not in (None, ""):
            attributes["value"] = formatted
        return mark_safe(f"<input{flatatt(attributes)}>")  # flatatt escapes every value


class PlainTextInput(_PlainInput, forms.TextInput):
    pass


class PlainDateInput(_PlainInput, forms.DateInput):
    pass


DATE_INPUT = PlainDateInput(attrs={"type": "date"}, format="%Y-%m-%d")


@dataclass(frozen=True)
class RememberedChoices:
    """The choices of a filter over a short table read whole (departments, roles), each ``<option>`` made
    once, when remembered (``selectors.remembered``): a few hundred departments cost a page no more than a few."""

    pairs: tuple[tuple[str, str], ...]
    keys: frozenset[str]
    #: Each choice's key and its ``<option>`` tag before and after where " selected" would go.
    options: tuple[tuple[str, str, str], ...]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> RememberedChoices:
        pairs = tuple(pairs)
        options = tuple((key, f'<option value="{escape(key)}"', f">{escape(label)}</option>") for key, label in pairs)
        return cls(pairs=pairs, keys=frozenset(key for key, _label in pairs), options=options)


def department_choices() -> RememberedChoices:
    """Every department, indented by depth, in tree order: remembered until the data changes."""
    return selectors.remembered(
        "department-choices",
        lambda: RememberedChoices.of(
            (str(d.pk), "\u2003" * depth + f"{d.name} ({d.code})") for d, depth in selectors.department_tree()
        ),
    )


def role_choices() -> RememberedChoices:
    """Every role by name: remembered until the data changes."""
    return selectors.remembered(
        "role-choices",
        lambda: RememberedChoices.of(
            (str(pk), name) for pk, name in Role.objects.order_by("name").values_list("pk", "name")
        ),
    )


class RememberedSelect(forms.Select):
    """A ``<select>`` of ``RememberedChoices`` (``remembered``) after an empty choice (``empty_label``)."""

    remembered: Callable[[], RememberedChoices]
    empty_label: str

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        chosen = set(self.format_value(value))
        options = [f'<option value=""{" selected" if "" in chosen else ""}>{escape(self.empty_label)}</option>']
        options.extend(
            f"{start}{' selected' if key in chosen else ''}{end}" for key, start, end in self.remembered().options
        )
        return mark_safe(  # every value escaped here or in RememberedChoices.of
            f'<select name="{escape(name)}"{flatatt(self.build_attrs(self.attrs, attrs))}>{"".join(options)}</select>'
        )


class RememberedChoiceField(forms.Field):
    """A choice among ``RememberedChoices``, read only when a value is given or the field shown."""

    widget = RememberedSelect
    default_error_messages = {"invalid_choice": forms.ChoiceField.default_error_messages["invalid_choice"]}

    def __init__(self, *, remembered: Callable[[], RememberedChoices], empty_label: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.remembered = remembered
        self.empty_label = empty_label
        self.widget.remembered = remembered
        self.widget.empty_label = empty_label

    @property
    def choices(self) -> list[tuple[str, str]]:
        return [("", self.empty_label), *self.remembered().pairs]

    def validate(self, value: str) -> None:
        super().validate(value)
        if value and value not in self.remembered().keys:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value})


class RememberedChoiceFilter(django_filters.Filter):
    """A filter on a ``RememberedChoiceField`` (pass ``remembered`` and ``empty_label``)."""

    field_class = RememberedChoiceField


class FilterFormMixin:
    """The filter form as HTML put together in Python, for the same reason as ``PlainSelect``; and what the page
    says about the search box (``problems``)."""

    form: forms.Form
    request: object
    is_bound: bool

    def problems(self) -> list[str]:
        """A message for the page when the search was too long to look for whole (``search_words``)."""
        if not (self.is_bound and "q" in self.form.fields and self.form.is_valid()):
            return []
        if not search_words(self.form.cleaned_data.get("q") or "")[1]:
            return []
        return [search_cut_message()]

    def html(self) -> SafeString:
        """The form, remembered (``selectors.remembered``) for each language, path and set of values asked for
        until the data changes (the choices of departments and roles come from the data): the same search, or
        the empty form, asked again is not made again."""
        values = [(name, self.request.GET.getlist(name)) for name in self.form.fields]
        asked = hashlib.sha256(repr((values, bool(self.request.GET))).encode()).hexdigest()
        name = f"filter-form:{type(self).__name__}:{get_language()}:{self.request.path}:{asked}"
        return selectors.remembered(name, self._make_html)

    def _make_html(self) -> SafeString:
        form = self.form
        parts = ['<form method="get" class="filters">']
        if errors := form.non_field_errors():
            parts.append(str(errors))
        for field in form:
            parts.append(
                f'<div class="field{" invalid" if field.errors else ""}">'
                f'<label for="{escape(field.id_for_label)}">{escape(field.label)}:</label> {field}'
                f"{field.errors if field.errors else ''}</div>"
            )
        # Translated outside the f-strings, where makemessages would not find them.
        submit, clear = pgettext("button", "Filter"), gettext("Clear")
        parts.append(f'<button type="submit">{escape(submit)}</button>')
        if self.request.GET:
            parts.append(f'<a href="{escape(self.request.path)}">{escape(clear)}</a>')
        parts.append("</form>")
        return mark_safe("".join(parts))  # escaped above; fields and errors render themselves escaped


def search_cut_message() -> str:
    return gettext(
        "The search is too long: only its first %(words)s words, %(characters)s characters in all, were looked for."
    ) % {"words": SEARCH_MAX_WORDS, "characters": SEARCH_MAX_CHARS}


def search_words(value: str) -> tuple[list[str], bool]:
    """The words of the search ``value`` that are looked for, and whether some of it was left out: the first
    ``SEARCH_MAX_WORDS`` words, up to ``SEARCH_MAX_CHARS`` characters in all (the last one cut if need be)."""
    words: list[str] = []
    room = SEARCH_MAX_CHARS
    for word in value.split():
        if len(words) == SEARCH_MAX_WORDS or not room:
            return words, True
        words.append(word[:room])
        room -= len(words[-1])
        if len(word) > len(words[-1]):
            return words, True
    return words, False


class AsOfForm(forms.Form):
    """The as-of date of a detail page; today when empty."""

    as_of = forms.DateField(label=_("As of"), required=False, widget=DATE_INPUT)

    def day(self) -> datetime.date:
        """The valid date asked for, else today (the form's errors say why)."""
        if self.is_valid() and self.cleaned_data["as_of"]:
            return self.cleaned_data["as_of"]
        return timezone.localdate()


class AssignmentFilter(FilterFormMixin, django_filters.FilterSet):
    """Who is responsible: assignments in force on an as-of date, narrowed by the other fields."""

    q = django_filters.CharFilter(
        label=_("Search"),
        method="search",
        widget=PlainTextInput(
            attrs={"placeholder": _("Start of a person's name, number or email; part of a department, project or role")}
        ),
    )
    role = RememberedChoiceFilter(label=_("Role"), remembered=role_choices, empty_label=ANY)
    level = django_filters.ChoiceFilter(
        label=_("RACI level"), choices=Level.choices, empty_label=ANY, widget=PlainSelect
    )
    department = RememberedChoiceFilter(
        label=_("Department (with sub-departments)"),
        method="in_subtree",
        remembered=department_choices,
        empty_label=ANY,
    )
    project_status = django_filters.ChoiceFilter(
        label=_("Project status"),
        field_name="project__status",
        choices=ProjectStatus.choices,
        empty_label=ANY,
        widget=PlainSelect,
    )
    as_of = django_filters.DateFilter(label=_("As of"), method="in_force_on", widget=DATE_INPUT)

    class Meta:
        model = Assignment
        fields: list[str] = []

    @property
    def qs(self) -> QuerySet[Assignment]:
        """The filtered assignments; none at all while a field is invalid (the form says which)."""
        if self.is_bound and not self.form.is_valid():
            return self.queryset.none()
        qs = super().qs
        if not (self.is_bound and self.form.cleaned_data.get("as_of")):
            qs = qs.as_of(timezone.localdate())
        return qs

    def day(self) -> datetime.date:
        if self.is_bound and self.form.is_valid() and self.form.cleaned_data.get("as_of"):
            return self.form.cleaned_data["as_of"]
        return timezone.localdate()

    def search(self, queryset: QuerySet[Assignment], name: str, value: str) -> QuerySet[Assignment]:
        return search_assignments(queryset, value)

    def in_subtree(self, queryset: QuerySet[Assignment], name: str, value: str) -> QuerySet[Assignment]:
        ids = selectors.department_subtree_ids(int(value))
        return queryset.filter(Q(department__in=ids) | Q(project__department__in=ids))

    def in_force_on(self, queryset: QuerySet[Assignment], name: str, value: datetime.date) -> QuerySet[Assignment]:
        return queryset.as_of(value)


def search_assignments(queryset: QuerySet[Assignment], value: str) -> QuerySet[Assignment]:
    """Assignments whose every word matches one of the searched fields, so "Ana García" finds hers.

    The staff pages' search box and the admin's assignment search both use it. A search too long is cut
    (``search_words``): the pages say so (``FilterFormMixin.problems``).

    Each word is looked up in the people, departments, projects and roles
    tables first (one query for the four, ``_matching_ids``, remembered until
    the data changes), never in every assignment joined to them. A word that matches a few rows becomes a list
    of ids, which the assignment indexes answer directly. One that matches
    many (a common surname) is checked on ``field_id + 0``: that hides the
    column's index, so the database reads the newest assignments in order
    off the start-date index (which holds the employee) and keeps those that
    match, soon enough for a page, rather than gathering and sorting every
    assignment of every match. Up to ``SEARCH_IDS_CHECKED`` matches are sent
    as a list; beyond that, as a subquery.
    """
    for number, word in enumerate(search_words(value)[0]):
        condition = Q()
        for field, ids in _remembered_matches(queryset.db, word).items():
            if not ids:
                continue
            if len(ids) <= SEARCH_IDS:
                condition |= Q(**{f"{field}__in": ids})
            elif len(ids) <= SEARCH_IDS_CHECKED:
                condition |= _checked_on_each_row(queryset, field, ids)
            else:
                unindexed = f"_search_{number}_{field}"
                queryset = queryset.alias(**{unindexed: F(f"{field}_id") + 0})
                condition |= Q(**{f"{unindexed}__in": _matching(field, word).values("pk")})
        if not condition:
            return queryset.none()
        queryset = queryset.filter(condition)
    return queryset


def _remembered_matches(alias: str, word: str) -> dict[str, list[int]]:
    """``_matching_ids``, remembered until the data changes (``selectors.remembered``): a word is looked for in
    every person, department, project and role, and paging, sorting or exporting a search, or the next person
    looking for the same name, ask for it again."""
    key = hashlib.sha256(word.encode()).hexdigest()
    return selectors.remembered(f"search-word:{alias}:{key}", lambda: _matching_ids(alias, word))


def _checked_on_each_row(queryset: QuerySet[Assignment], field: str, ids: list[int]) -> ExpressionWrapper:
    """``field_id + 0 IN (ids)``: the ``+ 0`` keeps the column's index out of it. Written out, as Django would
    turn each of up to a thousand ids into a query parameter one by one (about 1 ms); they are integers read
    from the database."""
    quote = connections[queryset.db].ops.quote_name
    column = f"{quote(queryset.model._meta.db_table)}.{quote(f'{field}_id')}"
    listed = ", ".join(str(int(pk)) for pk in ids)
    return ExpressionWrapper(RawSQL(f"{column} + 0 IN ({listed})", ()), output_field=BooleanField())


def _matching(field: str, word: str) -> QuerySet:
    model, lookups = SEARCH_TARGETS[field]
    return model.objects.filter(_any_field_matches(lookups, word)).order_by()


def _matching_ids(alias: str, word: str) -> dict[str, list[int]]:
    """The ids of the rows of each table in ``SEARCH_TARGETS`` that ``word`` matches, up to one more than
    ``SEARCH_IDS_CHECKED`` each, in one query: each table's query as the ORM writes it (its lookups, escaping
    and collation), put together with UNION ALL."""
    sql = _matching_ids_sql(alias)
    params = _matching_ids_params(alias, word) if sql else None
    if params is None:  # the ORM wrote its parameters differently: ask it each time
        sql, params = _compile_matching_ids(alias, word)
    fields = list(SEARCH_TARGETS)
    found: dict[str, list[int]] = {field: [] for field in fields}
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        for number, pk in cursor.fetchall():
            found[fields[number]].append(pk)
    return found


def _compile_matching_ids(alias: str, word: str) -> tuple[str, list]:
    connection = connections[alias]
    parts, params = [], []
    for number, field in enumerate(SEARCH_TARGETS):
        ids = _matching(field, word).using(alias).values_list("pk", flat=True)[: SEARCH_IDS_CHECKED + 1]
        sql, part_params = ids.query.get_compiler(using=alias).as_sql()
        parts.append(f"SELECT {number}, found.* FROM ({sql}) {connection.ops.quote_name('found')}")
        params.extend(part_params)
    return " UNION ALL ".join(parts), params


def _matching_ids_params(alias: str, word: str) -> list[str]:
    """The parameters the ORM gives ``_compile_matching_ids``'s query for ``word``: one LIKE pattern a lookup."""
    connection = connections[alias]
    escaped = connection.ops.prep_for_like_query(searched_text(word, connection))
    return [
        model._meta.get_field(name).get_lookup(lookup_name).param_pattern % escaped
        for model, lookups in SEARCH_TARGETS.values()
        for name, lookup_name in (lookup.rsplit("__", 1) for lookup in lookups)
    ]


@functools.cache
def _matching_ids_sql(alias: str) -> str:
    """``_compile_matching_ids``'s query, compiled once: the ORM takes about 1 ms to write it, and only its
    parameters change with the word. Empty if the ORM's parameters are not ``_matching_ids_params``."""
    sql, params = _compile_matching_ids(alias, "w")
    return sql if params == _matching_ids_params(alias, "w") else ""


def _any_field_matches(lookups: tuple[str, ...], word: str) -> Q:
    condition = Q()
    for lookup in lookups:
        condition |= Q(**{lookup: word})
    return condition


def _every_word(queryset: QuerySet, value: str, lookups: tuple[str, ...]) -> QuerySet:
    for word in search_words(value)[0]:
        queryset = queryset.filter(_any_field_matches(lookups, word))
    return queryset


class _SubtreeFilterSet(FilterFormMixin, django_filters.FilterSet):
    """A department choice that matches the department and every one under it."""

    department = RememberedChoiceFilter(
        label=_("Department (with sub-departments)"),
        method="in_subtree",
        remembered=department_choices,
        empty_label=ANY,
    )
    subtree_path = "department"

    @property
    def qs(self) -> QuerySet:
        if self.is_bound and not self.form.is_valid():
            return self.queryset.none()
        return super().qs

    def in_subtree(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(**{f"{self.subtree_path}__in": selectors.department_subtree_ids(int(value))})


class ProjectFilter(_SubtreeFilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search", widget=PlainTextInput)
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=ProjectStatus.choices, empty_label=ANY, widget=PlainSelect
    )

    class Meta:
        model = Project
        fields: list[str] = []

    def search(self, queryset: QuerySet[Project], name: str, value: str) -> QuerySet[Project]:
        return _every_word(queryset, value, ("code__folded_icontains", "name__folded_icontains"))


class EmployeeFilter(_SubtreeFilterSet):
    q = django_filters.CharFilter(
        label=_("Search"),
        method="search",
        widget=PlainTextInput(attrs={"placeholder": _("Start of a name, number or email; part of a job title")}),
    )
    employment = django_filters.ChoiceFilter(
        label=_("Employment"),
        choices=[("current", _("On the staff today")), ("left", _("Left"))],
        method="by_employment",
        widget=PlainSelect,
        empty_label=ANY,
    )

    class Meta:
        model = Employee
        fields: list[str] = []

    def search(self, queryset: QuerySet[Employee], name: str, value: str) -> QuerySet[Employee]:
        return _every_word(queryset, value, (*PERSON_SEARCH, "job_title__folded_icontains"))

    def by_employment(self, queryset: QuerySet[Employee], name: str, value: str) -> QuerySet[Employee]:
        today = timezone.localdate()
        if value == "left":
            return queryset.filter(leave_date__lt=today)
        return queryset.filter(pk__in=selectors.employees_employed_on(today).values("pk"))

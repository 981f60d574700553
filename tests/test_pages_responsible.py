"""The "who is responsible" page: search, filters, as-of date, export, bad input."""

from __future__ import annotations

import csv
import datetime
import io

import openpyxl
import pytest
from django import forms
from django.template import RequestContext, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils.translation import override
from pytest_django.asserts import assertHTMLEqual

from org import services
from org.filters import AssignmentFilter, EmployeeFilter, ProjectFilter, search_words
from org.models import Assignment, Employee, Level, Project, ProjectStatus
from tests.factories import AssignmentFactory, DepartmentFactory, EmployeeFactory, ProjectFactory

D = datetime.date
URL = reverse("org:responsible")
pytestmark = pytest.mark.django_db


def rows(response) -> list[Assignment]:
    return [row.record for row in response.context["table"].paginated_rows]


def names(response) -> set[str]:
    return {str(row.record.employee) for row in response.context["table"].paginated_rows}


@pytest.fixture
def company(ana, bob, carla, manager_role, developer_role, head_role):
    """Ana manages ERP (owned by Finance > Payroll); Bob develops CRM (owned by Sales); Carla heads Payroll."""
    finance = DepartmentFactory(code="FIN", name="Finance")
    payroll = DepartmentFactory(code="PAY", name="Payroll", parent=finance)
    sales = DepartmentFactory(code="SAL", name="Sales")
    erp = ProjectFactory(code="ERP", name="ERP migration", department=payroll)
    crm = ProjectFactory(code="CRM", name="CRM rollout", department=sales, status=ProjectStatus.ON_HOLD)
    services.assignment_create(employee=ana, role=manager_role, target=erp, start_date=D(2024, 1, 1), allocation=50)
    services.assignment_create(employee=bob, role=developer_role, target=crm, start_date=D(2024, 1, 1), allocation=80)
    services.assignment_create(employee=carla, role=head_role, target=payroll, start_date=D(2024, 1, 1))
    return {"finance": finance, "payroll": payroll, "sales": sales, "erp": erp, "crm": crm}


def test_default_is_everything_in_force_today(viewer_client, company):
    response = viewer_client.get(URL)
    assert response.status_code == 200
    assert names(response) == {"Ana García", "Bob Smith", "Carla Pérez"}
    html = response.content.decode()
    assert reverse("org:employee", args=["E1"]) in html
    assert reverse("org:project", args=["ERP"]) in html
    assert reverse("org:department", args=["PAY"]) in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ana", {"Ana García"}),
        ("Ana García", {"Ana García"}),
        ("E2", {"Bob Smith"}),
        ("crm", {"Bob Smith"}),
        ("rollout", {"Bob Smith"}),
        ("Payroll", {"Carla Pérez"}),  # the department's name
        ("PAY", {"Carla Pérez"}),
        ("project manager", {"Ana García"}),
        ("e3@example", {"Carla Pérez"}),  # the factory's email is the number: e3@example.com
        ("nobody-like-this", set()),
    ],
)
def test_search_box(viewer_client, company, query, expected):
    assert names(viewer_client.get(URL, {"q": query})) == expected


def test_filters_narrow(viewer_client, company, manager_role):
    assert names(viewer_client.get(URL, {"role": manager_role.pk})) == {"Ana García"}
    assert names(viewer_client.get(URL, {"level": Level.ACCOUNTABLE})) == {"Ana García", "Carla Pérez"}
    assert names(viewer_client.get(URL, {"project_status": ProjectStatus.ON_HOLD})) == {"Bob Smith"}
    # Finance's subtree: Carla's seat on Payroll and Ana's project that Payroll owns.
    assert names(viewer_client.get(URL, {"department": company["finance"].pk})) == {"Ana García", "Carla Pérez"}
    assert names(viewer_client.get(URL, {"department": company["sales"].pk})) == {"Bob Smith"}
    both = {"level": Level.ACCOUNTABLE, "department": company["finance"].pk, "q": "erp"}
    assert names(viewer_client.get(URL, both)) == {"Ana García"}


def test_department_filter_is_a_select_of_departments_only(viewer_client, company):
    form = viewer_client.get(URL).context["filter"].form
    assert {"employee", "project"}.isdisjoint(form.fields)
    labels = [label for _pk, label in form.fields["department"].choices]
    finance = labels.index("Finance (FIN)")
    assert labels[finance + 1] == "\u2003Payroll (PAY)"  # indented under its parent
    assert "Sales (SAL)" in labels


def test_as_of_a_past_date_shows_the_earlier_holder(viewer_client, company, ana, bob):
    services.employee_hand_over(leaver=ana, successor=bob, on_date=D(2025, 1, 1))
    today = viewer_client.get(URL, {"q": "ERP"})
    assert names(today) == {"Bob Smith"}
    before = viewer_client.get(URL, {"q": "ERP", "as_of": "2024-12-31"})
    assert names(before) == {"Ana García"}
    assert before.context["day"] == D(2024, 12, 31)
    assert "Dec. 31, 2024" in before.content.decode()


def test_as_of_before_any_data_is_empty_not_an_error(viewer_client, company):
    response = viewer_client.get(URL, {"as_of": "1900-01-01"})
    assert response.status_code == 200
    assert rows(response) == []
    assert "Nothing to show." in response.content.decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"as_of": "2024-13-45"}, "as_of"),
        ({"as_of": "yesterday"}, "as_of"),
        ({"role": "abc"}, "role"),
        ({"role": "999999"}, "role"),
        ({"level": "Z"}, "level"),
        ({"department": "abc"}, "department"),
        ({"department": "999999"}, "department"),
        ({"project_status": "gone"}, "project_status"),
    ],
)
def test_malformed_filters_are_form_errors(viewer_client, company, params, field):
    response = viewer_client.get(URL, params)
    assert response.status_code == 200
    assert field in response.context["filter"].form.errors
    assert rows(response) == []
    assert 'class="errorlist' in response.content.decode()


@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", "99999999999999999999"])
def test_malformed_page_number_is_a_message(viewer_client, company, page):
    response = viewer_client.get(URL, {"page": page})
    assert response.status_code == 200
    assert response.context["problems"]
    assert "is not a page number" in response.content.decode()
    assert len(rows(response)) == 3


@pytest.mark.parametrize("sort", ["salary", "-password", "employee,nope", "__class__"])
def test_unknown_sort_is_a_message(viewer_client, company, sort):
    response = viewer_client.get(URL, {"sort": sort})
    assert response.status_code == 200
    assert "to sort by; showing the usual order" in response.content.decode()
    assert len(rows(response)) == 3


def test_known_sorts_give_no_message(viewer_client, company):
    response = viewer_client.get(URL, {"sort": "-employee,start_date"})
    assert not response.context["problems"]
    assert str(rows(response)[0].employee) == "Bob Smith"  # last names descending


def test_page_past_the_end_is_a_message(viewer_client, company):
    response = viewer_client.get(URL, {"page": "7"})
    assert response.status_code == 200
    assert "There is no page 7" in response.content.decode()
    assert len(rows(response)) == 3


def test_paginated_and_sortable(viewer_client, developer_role):
    project = ProjectFactory(code="BIG")
    for i in range(30):
        AssignmentFactory(
            employee=EmployeeFactory(last_name=f"Zz{i:02d}"), role=developer_role, project=project, allocation=i
        )
    first = viewer_client.get(URL)
    assert len(rows(first)) == 25
    second = viewer_client.get(URL, {"page": 2})
    assert len(rows(second)) == 5
    by_allocation = viewer_client.get(URL, {"sort": "-allocation"})
    assert [a.allocation for a in rows(by_allocation)][:3] == [29, 28, 27]
    # A per_page parameter cannot make a page unbounded.
    assert len(rows(viewer_client.get(URL, {"per_page": 100000}))) == 25


def test_csv_export_matches_the_filtered_rows(viewer_client, company, ana, bob):
    services.employee_hand_over(leaver=ana, successor=bob, on_date=D(2025, 1, 1))
    response = viewer_client.get(URL, {"as_of": "2024-12-31", "level": "A", "_export": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="responsible-2024-12-31.csv"' in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    got = {
        (r["Employee"], r["Employee number"], r["Role"], r["RACI level"], r["On"], r["From"], r["To"]) for r in table
    }
    assert got == {
        ("Ana García", "E1", "Project Manager", "Accountable", "ERP — ERP migration", "2024-01-01", "2024-12-31"),
        ("Carla Pérez", "E3", "Head of Department", "Accountable", "Payroll (PAY)", "2024-01-01", ""),
    }


def test_xlsx_export_is_a_workbook_of_the_filtered_rows(viewer_client, company):
    response = viewer_client.get(URL, {"project_status": "active", "_export": "xlsx"})
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook.active
    header, *data = list(sheet.values)
    assert header[:2] == ("Employee", "Employee number")
    assert len(data) == 1
    assert data[0][0] == "Ana García"
    assert data[0][header.index("From")] == datetime.datetime(2024, 1, 1)


TOO_LONG = "the search is too long: only its first 10 words, 200 characters in all, were looked for."


@pytest.mark.parametrize(
    ("page", "search", "found"),
    [
        ("org:responsible", "a " * 1000, {"Ana García", "Carla Pérez"}),  # in "Manager", "Payroll"
        ("org:responsible", "ana " * 10 + "nobody", {"Ana García"}),
        ("org:employees", "garc " * 1000, {"E1"}),
        ("org:employees", "e" + "1" * 500, set()),  # cut, but not to nothing
        ("org:projects", "rollout " * 1000, {"CRM"}),
    ],
)
def test_a_search_too_long_is_cut_with_a_message(viewer_client, company, page, search, found):
    """A thousand words made a query SQLite refuses, which was taken for the database failing (503)."""
    response = viewer_client.get(reverse(page), {"q": search})
    assert response.status_code == 200
    if page == "org:responsible":
        assert names(response) == found
    else:
        assert {
            getattr(row.record, "code", None) or row.record.employee_number
            for row in response.context["table"].paginated_rows
        } == found
    assert [str(problem).lower() for problem in response.context["problems"]] == [TOO_LONG]
    assert TOO_LONG in response.content.decode().lower()


def test_search_words_keeps_the_first_words_and_characters():
    assert search_words(" ana  garcía ") == (["ana", "garcía"], False)
    assert search_words("w " * 10) == (["w"] * 10, False)
    assert search_words("w " * 11) == (["w"] * 10, True)
    assert search_words("x" * 200) == (["x" * 200], False)
    assert search_words("x" * 201) == (["x" * 200], True)
    assert search_words("x" * 199 + " yz") == (["x" * 199, "y"], True)
    assert search_words("x" * 200 + " y") == (["x" * 200], True)


def test_role_filter_choices_are_roles_not_people(viewer_client, company):
    """Roles are few; employees and projects are never a select."""
    html = viewer_client.get(URL).content.decode()
    assert html.count("<select") == 5  # role, level, department, project status + the language switch
    assert "<option" not in html.split('name="q"')[1].split("</div>")[0]


def test_unknown_export_format_renders_the_page(viewer_client, company):
    response = viewer_client.get(URL, {"_export": "pdf"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


def test_an_export_too_big_to_build_is_refused_with_a_message(viewer_client, company, monkeypatch):
    monkeypatch.setattr("org.views.EXPORT_MAX_ROWS", 2)
    response = viewer_client.get(URL, {"_export": "csv"})
    assert response["Content-Type"].startswith("text/html")
    assert "more than 2 rows; narrow the filters" in response.content.decode()
    assert viewer_client.get(URL, {"_export": "csv", "q": "ana"})["Content-Type"].startswith("text/csv")


#: What the pages rendered for a filter form before ``FilterFormMixin.html`` put it together in Python.
FILTER_FORM_TEMPLATE = Template("""{% load i18n %}
<form method="get" class="filters">
  {% if form.non_field_errors %}{{ form.non_field_errors }}{% endif %}
  {% for field in form %}
    <div class="field{% if field.errors %} invalid{% endif %}">
      <label for="{{ field.id_for_label }}">{{ field.label }}:</label> {{ field }}
      {% if field.errors %}{{ field.errors }}{% endif %}
    </div>
  {% endfor %}
  <button type="submit">{% translate "Filter" context "button" %}</button>
  {% if request.GET %}<a href="{{ request.path }}">{% translate "Clear" %}</a>{% endif %}
</form>""")


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(
    ("filter_class", "model", "query"),
    [
        (AssignmentFilter, Assignment, ""),
        (AssignmentFilter, Assignment, "?q=<b>x</b>&level=A&department={finance}&as_of=nope&role=999"),
        (AssignmentFilter, Assignment, "?role={role}&project_status=active"),
        (EmployeeFilter, Employee, "?q=a&employment=left&department=abc"),
        (ProjectFilter, Project, "?status=closed&department={finance}"),
    ],
)
def test_filter_form_is_what_its_template_rendered(company, manager_role, filter_class, model, query, language):
    DepartmentFactory(code="R&D", name="<Research> & Development", parent=company["finance"])
    request = RequestFactory().get("/list/" + query.format(finance=company["finance"].pk, role=manager_role.pk))
    with override(language):
        filterset = filter_class(request.GET or None, queryset=model.objects.all(), request=request)
        theirs = FILTER_FORM_TEMPLATE.render(RequestContext(request, {"form": filterset.form}))
        assertHTMLEqual(str(filterset.html()), theirs)
    assert "&lt;Research&gt; &amp; Development (R&amp;D)" in theirs


@pytest.mark.parametrize("value", [None, "", "{payroll}", "999999", "<x>"])
def test_remembered_select_is_what_djangos_select_renders(company, value):
    DepartmentFactory(code="R&D", name="<Research> & Development", parent=company["finance"])
    value = value and value.format(payroll=company["payroll"].pk)
    field = AssignmentFilter(queryset=Assignment.objects.all()).form.fields["department"]
    django_select = forms.Select(choices=field.choices, attrs={"id": "id_department"})
    ours = field.widget.render("department", value, attrs={"id": "id_department"})
    assertHTMLEqual(str(ours), django_select.render("department", value))
    assert "&lt;Research&gt; &amp; Development (R&amp;D)" in ours
    assert (" selected" in ours) == (value in (None, "", str(company["payroll"].pk)))


def test_a_page_is_read_in_the_order_asked_with_everything_joined(viewer_client, company, django_assert_num_queries):
    for day in range(30):
        AssignmentFactory(start_date=D(2023, 1, 1) + datetime.timedelta(days=day))
    page = Assignment.objects.as_of(datetime.date.today()).order_by("-start_date", "-pk")[25:50]
    rows_ = Assignment.objects.with_related_fetched_after().as_of(datetime.date.today()).order_by("-start_date", "-pk")
    with django_assert_num_queries(2):  # the ids, then their rows joined
        got = list(rows_[25:50])
        assert [str(a.employee) + str(a.role) + str(a.target) for a in got]
    assert [a.pk for a in got] == [a.pk for a in page]
    assert [row.pk for row in rows(viewer_client.get(URL, {"page": 2}))] == [a.pk for a in page]


@pytest.mark.parametrize(
    ("listed", "checked"),
    [(100, 1000), (3, 1000), (3, 5)],
    ids=["ids for the index", "ids checked row by row", "a subquery"],
)
def test_a_common_word_finds_the_same_assignments_however_it_is_sent(company, monkeypatch, listed, checked):
    """A word matching few rows is a list of ids for an index, more a list checked against each row, many a
    subquery (org.filters.search_assignments): each way, every word must match one of the searched tables."""
    from org import filters

    monkeypatch.setattr(filters, "SEARCH_IDS", listed)
    monkeypatch.setattr(filters, "SEARCH_IDS_CHECKED", checked)
    sales = company["sales"]
    for number in range(8):
        AssignmentFactory(employee=EmployeeFactory(last_name=f"Garcés {number}"), department=sales, project=None)
    AssignmentFactory(employee=EmployeeFactory(first_name="Garfield"), department=company["finance"], project=None)
    everything = Assignment.objects.with_related()

    def found(value: str) -> set[str]:
        return {str(a.employee) for a in filters.search_assignments(everything, value)}

    garces = {f"{e.first_name} {e.last_name}" for e in Employee.objects.filter(last_name__startswith="Garcés")}
    assert found("garc") == garces | {"Ana García"}
    assert found("gar") == garces | {"Ana García", "Garfield " + Employee.objects.get(first_name="Garfield").last_name}
    assert found("Garc Sales") == garces  # the second word matches the department the Garcés work in
    assert found("Garc nobody-at-all") == set()


@pytest.mark.parametrize("word", ["Ana", "ana", "100%", "a_b", "back\\slash", "García", "E1"])
def test_the_words_lookup_written_once_finds_what_the_orm_finds(company, word):
    """The lookup of a word in the four searched tables is compiled once and reused with the word's patterns
    (org.filters._matching_ids_sql): it finds what each table's own ORM filter finds, wildcards escaped."""
    from org import filters

    EmployeeFactory(first_name="100%", last_name="a_b")
    DepartmentFactory(code="BS", name="back\\slash")
    assert filters._matching_ids_sql(Assignment.objects.all().db), "the ORM's parameters changed: compiled each time"
    found = filters._matching_ids(Assignment.objects.all().db, word)
    for field in filters.SEARCH_TARGETS:
        assert sorted(found[field]) == sorted(filters._matching(field, word).values_list("pk", flat=True)), field
    assert any(found.values()) or word in ("E1",)


@pytest.mark.parametrize("word", ["álvarez", "alvarez", "ÁLVAREZ", "Álvarez", "ALV", "jose", "ÑANDU", "nandú"])
def test_search_ignores_case_and_accents_on_every_database(viewer_client, company, word):
    """As MariaDB's collation does; SQLite's LIKE ignores the case of ASCII letters only (FoldedOnSQLite)."""
    jose = EmployeeFactory(first_name="José", last_name="Álvarez", employee_number="E77", job_title="Ñandú keeper")
    AssignmentFactory(
        employee=jose, project=ProjectFactory(code="NAN", name="Ñandú tracking"), start_date=D(2024, 1, 1)
    )
    assert names(viewer_client.get(URL, {"q": word})) == {"José Álvarez"}
    employees = viewer_client.get(reverse("org:employees"), {"q": word})
    assert [row.record.employee_number for row in employees.context["table"].paginated_rows] == ["E77"]
    if "and" in word.lower():
        projects = viewer_client.get(reverse("org:projects"), {"q": word})
        assert [row.record.code for row in projects.context["table"].paginated_rows] == ["NAN"]


@pytest.mark.mariadb
def test_the_search_lookups_are_mariadbs_own_there():
    """Folding is for SQLite: on MariaDB the lookups write the SQL and parameters of istartswith and icontains."""
    for model, folded, plain in [
        (Employee, "last_name__folded_istartswith", "last_name__istartswith"),
        (Employee, "work_email__folded_istartswith", "work_email__istartswith"),
        (Project, "name__folded_icontains", "name__icontains"),
    ]:
        assert model.objects.filter(**{folded: "Ál_%"}).query.sql_with_params() == (
            model.objects.filter(**{plain: "Ál_%"}).query.sql_with_params()
        )


def test_a_remembered_search_word_sees_the_next_change(viewer_client, company):
    """What a word matches is remembered until the data changes (org.filters._remembered_matches)."""
    assert names(viewer_client.get(URL, {"q": "Zed"})) == set()
    AssignmentFactory(employee=EmployeeFactory(first_name="Zed", last_name="Newcomer"), start_date=D(2024, 1, 1))
    assert names(viewer_client.get(URL, {"q": "Zed"})) == {"Zed Newcomer"}
    assert names(viewer_client.get(URL, {"q": "Zed", "page": "1"})) == {"Zed Newcomer"}

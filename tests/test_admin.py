"""Admin smoke tests for every ModelAdmin, with pinned query counts.

Each page is loaded with a company of 10 and of 1,000 rows per table; the
count of queries must be the pinned number at both sizes, so it cannot grow
with the data.
"""

from __future__ import annotations

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from org import services
from org.models import Assignment, Department, Employee, Level, Project, Role
from tests.company import build_company

D = datetime.date
pytestmark = pytest.mark.django_db


def url_for(name: str, company: dict, suffix: str = "") -> str:
    """``name`` is ``model:view`` (e.g. ``project:change``), optionally with a query string."""
    model, view = name.split(":")
    if view in ("changelist", "add"):
        return reverse(f"admin:org_{model}_{view}") + suffix
    return reverse(f"admin:org_{model}_{view}", args=[company[model].pk]) + suffix


# Queries per page, the same at every size. Each page spends a handful on the
# session, the user, whether the user has left (org.access) and the admin's own
# bookkeeping; what is pinned is the total.
PAGES = {
    "department:changelist": ("", 7),
    "department:changelist ?q=": ("?q=Department", 7),
    "department:changelist ?active": ("?active__exact=1", 7),
    "department:changelist ?tree": ("?department_tree={root}", 8),
    "department:add": ("", 4),
    "department:change": ("", 7),
    "department:history": ("", 6),
    "employee:changelist": ("", 7),
    "employee:changelist ?q=": ("?q=Last1", 7),
    "employee:changelist ?employment": ("?employment=current", 7),
    "employee:changelist ?left": ("?employment=left", 7),
    "employee:changelist ?tree": ("?department_tree={root}", 8),
    "employee:add": ("", 4),
    "employee:change": ("", 7),
    "employee:history": ("", 6),
    "project:changelist": ("", 9),
    "project:changelist ?q=": ("?q=Project", 9),
    "project:changelist ?status": ("?status__exact=active", 9),
    "project:changelist ?tree": ("?department_tree={root}", 10),
    "project:add": ("", 4),
    "project:change": ("", 7),
    "project:history": ("", 6),
    "role:changelist": ("", 6),
    "role:changelist ?q=": ("?q=Role", 6),
    "role:changelist ?applies_to": ("?applies_to__exact=both", 6),
    "role:changelist ?single": ("?single_holder__exact=0", 6),
    "role:changelist ?level": ("?default_level__exact=R", 6),
    "role:add": ("", 4),
    "role:change": ("", 5),
    "role:history": ("", 7),
    # Assignments: employee and role fetched after the page (+2), no full count (-1), search words resolved first.
    "assignment:changelist": ("", 9),
    # The search word looked up in the four searched tables at once, remembered under the data version (+1).
    "assignment:changelist ?q=": ("?q=Last1", 11),
    "assignment:changelist ?current": ("?status=current", 9),
    "assignment:changelist ?past": ("?status=past", 7),
    "assignment:changelist ?future": ("?status=future", 7),
    "assignment:changelist ?level": ("?level__exact=R", 9),
    "assignment:changelist ?role": ("?role__id__exact={role}", 9),
    "assignment:changelist ?tree": ("?department_tree={root}", 10),
    "assignment:add": ("", 4),
    "assignment:change": ("", 11),
    "assignment:history": ("", 9),
}


@pytest.mark.parametrize("size", [10, 1000])
@pytest.mark.parametrize("page", PAGES)
def test_page_answers_in_pinned_queries(hr_client, page, size):
    company = build_company(size)
    name = page.split(" ")[0]
    suffix, expected = PAGES[page]
    suffix = suffix.format(root=Department.objects.get(code="ROOT").pk, role=company["role"].pk)
    url = url_for(name, company, suffix)
    ContentType.objects.clear_cache()  # every measurement starts from the same cold cache
    with CaptureQueriesContext(connection) as queries:
        response = hr_client.get(url)
    assert response.status_code == 200, url
    assert "?e=1" not in response.get("Location", "")
    assert len(queries) == expected, f"{url}: {len(queries)} queries"


def test_filters_narrow_the_lists(hr_client):
    company = build_company(10)
    past = Assignment.objects.filter(project=company["project"]).first()
    Assignment.objects.filter(pk=past.pk).update(end_date=D(2024, 6, 30))
    response = hr_client.get(reverse("admin:org_assignment_changelist") + "?status=past")
    assert response.context["cl"].result_count == 1
    branch = company["department"]
    child = Department.objects.create(code="SUB", name="Sub", parent=branch)
    Employee.objects.filter(pk=company["employee"].pk).update(department=child)
    response = hr_client.get(reverse("admin:org_employee_changelist") + f"?department_tree={branch.pk}")
    assert {e.pk for e in response.context["cl"].result_list} == {company["employee"].pk}


def test_assignment_search_and_order(hr_client, ana, bob, project, department, manager_role, developer_role, head_role):
    services.assignment_create(employee=ana, role=manager_role, target=project, start_date=D(2024, 1, 1))
    services.assignment_create(employee=bob, role=developer_role, target=project, start_date=D(2025, 1, 1))
    services.assignment_create(employee=bob, role=head_role, target=department, start_date=D(2023, 1, 1))
    url = reverse("admin:org_assignment_changelist")

    def found(query: str) -> list[tuple[str, str]]:
        listed = hr_client.get(url, {"q": query}).context["cl"].result_list
        return [(str(a.employee), a.role.name) for a in listed]

    # Newest first; people by the start of a name, targets and roles anywhere in their names.
    assert found("") == [
        ("Bob Smith", "Developer"),
        ("Ana García", "Project Manager"),
        ("Bob Smith", "Head of Department"),
    ]
    assert found("smi") == [("Bob Smith", "Developer"), ("Bob Smith", "Head of Department")]
    assert found("Bob developer") == [("Bob Smith", "Developer")]
    assert found(project.code.lower()) == [("Bob Smith", "Developer"), ("Ana García", "Project Manager")]
    assert found("mith") == []  # not the start of a name
    assert found("nobody-at-all") == []


def test_malformed_filter_value_is_not_a_500(hr_client):
    build_company(10)
    response = hr_client.get(reverse("admin:org_assignment_changelist") + "?department_tree=abc")
    assert response.status_code == 302
    assert "e=1" in response["Location"]


def test_outsider_is_sent_to_login(client, outsider):
    client.force_login(outsider)
    response = client.get(reverse("admin:org_assignment_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


# --- Writing through the admin ------------------------------------------------------


def assignment_post(**fields) -> dict[str, str]:
    data = {
        "employee": "",
        "role": "",
        "department": "",
        "project": "",
        "level": "",
        "start_date": "2025-01-01",
        "end_date": "",
        "allocation": "",
        "note": "",
    }
    data.update({k: str(v) for k, v in fields.items()})
    return data


def test_add_assignment_through_the_service(hr_client, hr_admin, ana, project, manager_role):
    response = hr_client.post(
        reverse("admin:org_assignment_add"), assignment_post(employee=ana.pk, role=manager_role.pk, project=project.pk)
    )
    assert response.status_code == 302
    assignment = Assignment.objects.get()
    assert assignment.level == Level.ACCOUNTABLE  # the role's default, filled by the service
    assert assignment.history.get().history_user == hr_admin


def test_rule_violation_is_a_form_error_naming_the_rule(hr_client, ana, bob, project, manager_role):
    Assignment.objects.create(
        employee=ana, role=manager_role, project=project, level=Level.ACCOUNTABLE, start_date=D(2024, 1, 1)
    )
    response = hr_client.post(
        reverse("admin:org_assignment_add"), assignment_post(employee=bob.pk, role=manager_role.pk, project=project.pk)
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Only one Accountable per target" in str(errors["level"])
    assert "Project Manager has a single holder" in str(errors["role"])
    assert Assignment.objects.count() == 1


def test_a_note_longer_than_an_import_cell_is_a_form_error(hr_client, ana, project, developer_role):
    """What the admin stores must export and import back, and an import cell holds at most 10,000 characters."""
    data = assignment_post(employee=ana.pk, role=developer_role.pk, project=project.pk, note="n" * 10_001)
    response = hr_client.post(reverse("admin:org_assignment_add"), data)
    assert response.status_code == 200
    assert "at most 10000 characters (it has 10001)" in str(response.context["adminform"].form.errors["note"])
    assert not Assignment.objects.exists()


def test_two_targets_is_a_form_error(hr_client, ana, project, department, developer_role):
    data = assignment_post(employee=ana.pk, role=developer_role.pk, project=project.pk, department=department.pk)
    response = hr_client.post(reverse("admin:org_assignment_add"), data)
    assert response.status_code == 200
    assert "exactly one department or one project" in response.content.decode()
    assert not Assignment.objects.exists()


def test_change_assignment_checks_the_rules(hr_client, ana, bob, project, manager_role, developer_role):
    Assignment.objects.create(
        employee=ana, role=manager_role, project=project, level=Level.ACCOUNTABLE, start_date=D(2024, 1, 1)
    )
    mine = Assignment.objects.create(
        employee=bob, role=developer_role, project=project, level=Level.RESPONSIBLE, start_date=D(2024, 1, 1)
    )
    url = reverse("admin:org_assignment_change", args=[mine.pk])
    data = assignment_post(employee=bob.pk, role=developer_role.pk, project=project.pk, level="A")
    data["start_date"] = "2024-01-01"
    response = hr_client.post(url, data)
    assert response.status_code == 200
    assert "Only one Accountable" in response.content.decode()
    mine.refresh_from_db()
    assert mine.level == Level.RESPONSIBLE
    data["level"] = "C"
    assert hr_client.post(url, data).status_code == 302
    mine.refresh_from_db()
    assert (mine.level, mine.end_date) == (Level.RESPONSIBLE, timezone.localdate() - datetime.timedelta(days=1))
    assert Assignment.objects.get(employee=bob, start_date=timezone.localdate()).level == Level.CONSULTED


def project_post(project: Project, page, prefix: str, rows: list[dict]) -> dict[str, str]:
    """The POST of a project's change page with ``rows`` in its new-assignment inline."""
    data = {
        "code": project.code,
        "name": project.name,
        "department": project.department_id,
        "status": project.status,
        "start_date": "",
        "end_date": "",
        "description": "",
        **inline_management(page),
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
    }
    for i, row in enumerate(rows):
        for key, value in assignment_post(**row).items():
            if key != "project":
                data[f"{prefix}-{i}-{key}"] = value
    return data


def new_inline_prefix(response) -> str:
    return next(f.formset.prefix for f in response.context["inline_admin_formsets"] if "new" in f.opts.verbose_name)


def test_inline_rows_are_checked_against_each_other(hr_client, ana, bob, project, manager_role, developer_role):
    url = reverse("admin:org_project_change", args=[project.pk])
    page = hr_client.get(url)
    prefix = new_inline_prefix(page)
    rows = [{"employee": ana.pk, "role": manager_role.pk}, {"employee": bob.pk, "role": manager_role.pk}]
    response = hr_client.post(url, project_post(project, page, prefix, rows))
    assert response.status_code == 200
    assert "Only one Accountable per target" in response.content.decode()
    assert not Assignment.objects.exists()

    rows[1]["role"] = developer_role.pk
    response = hr_client.post(url, project_post(project, page, prefix, rows))
    assert response.status_code == 302
    assert {(a.employee, a.level) for a in project.assignments.all()} == {(ana, "A"), (bob, "R")}


def test_end_today_action(hr_client, ana, project, developer_role):
    open_one = Assignment.objects.create(
        employee=ana, role=developer_role, project=project, level="R", start_date=D(2024, 1, 1)
    )
    response = hr_client.post(
        reverse("admin:org_assignment_changelist"),
        {"action": "end_today", "_selected_action": [open_one.pk]},
        follow=True,
    )
    assert "1 assignment ended today." in response.content.decode()
    open_one.refresh_from_db()
    assert open_one.end_date is not None


def test_end_today_refuses_a_future_assignment_and_changes_nothing(hr_client, ana, bob, project, developer_role):
    current = Assignment.objects.create(
        employee=ana, role=developer_role, project=project, level="R", start_date=D(2024, 1, 1)
    )
    future = Assignment.objects.create(
        employee=bob, role=developer_role, project=project, level="R", start_date=D(2999, 1, 1)
    )
    response = hr_client.post(
        reverse("admin:org_assignment_changelist"),
        {"action": "end_today", "_selected_action": [current.pk, future.pk]},
        follow=True,
    )
    assert "it cannot end before it starts" in response.content.decode()
    current.refresh_from_db()
    assert current.end_date is None


def test_hand_over_action(hr_client, ana, bob, project, manager_role):
    pm = Assignment.objects.create(
        employee=ana, role=manager_role, project=project, level="A", start_date=D(2024, 1, 1)
    )
    url = reverse("admin:org_employee_changelist")
    page = hr_client.post(url, {"action": "hand_over", "_selected_action": [ana.pk]})
    assert page.status_code == 200
    assert "Hand over to" in page.content.decode()

    bad = hr_client.post(
        url, {"action": "hand_over", "_selected_action": [ana.pk], "apply": "1", "successor": ana.pk, "on_date": "x"}
    )
    assert bad.status_code == 200
    assert "Enter a valid date" in bad.content.decode()

    done = hr_client.post(
        url,
        {
            "action": "hand_over",
            "_selected_action": [ana.pk],
            "apply": "1",
            "successor": bob.pk,
            "on_date": "2025-06-01",
        },
        follow=True,
    )
    assert f"1 assignment handed over to {bob} ({bob.employee_number}) from June 1, 2025." in done.content.decode()
    pm.refresh_from_db()
    assert pm.end_date == D(2025, 5, 31)
    assert Assignment.objects.get(employee=bob).start_date == D(2025, 6, 1)


def test_hand_over_action_error_leaves_everything(hr_client, ana, project, manager_role):
    Assignment.objects.create(employee=ana, role=manager_role, project=project, level="A", start_date=D(2024, 1, 1))
    url = reverse("admin:org_assignment_changelist")
    response = hr_client.post(
        url,
        {
            "action": "hand_over",
            "_selected_action": list(Assignment.objects.values_list("pk", flat=True)),
            "apply": "1",
            "successor": ana.pk,
            "on_date": "2025-06-01",
        },
    )
    assert response.status_code == 200
    assert "already holds" in response.content.decode()
    assert Assignment.objects.get().end_date is None


def employee_post(employee: Employee, **changes) -> dict[str, str]:
    data = {
        "employee_number": employee.employee_number,
        "first_name": employee.first_name,
        "last_name": employee.last_name,
        "work_email": employee.work_email,
        "job_title": employee.job_title,
        "department": employee.department_id or "",
        "manager": "",
        "hire_date": employee.hire_date.isoformat() if employee.hire_date else "",
        "leave_date": "",
        "user": "",
    }
    data.update(changes)
    return data


def inline_management(response) -> dict[str, str]:
    data = {}
    for formset in response.context["inline_admin_formsets"]:
        data[f"{formset.formset.prefix}-TOTAL_FORMS"] = "0"
        data[f"{formset.formset.prefix}-INITIAL_FORMS"] = "0"
    return data


def test_saving_a_form_left_as_it_was_writes_no_history(hr_client, ana, department):
    """Save on an unchanged page wrote an empty "changed" record into the audit trail each time."""
    pages = {
        "employee": (ana, employee_post(ana)),
        "department": (department, {"code": department.code, "name": department.name, "active": "on"}),
    }
    for model, (obj, data) in pages.items():
        url = reverse(f"admin:org_{model}_change", args=[obj.pk])
        posted = {**data, **inline_management(hr_client.get(url))}
        records = obj.history.count()
        assert hr_client.post(url, posted).status_code == 302
        assert obj.history.count() == records, model
        changed = {**posted, "name" if model == "department" else "first_name": "Changed"}
        assert hr_client.post(url, changed).status_code == 302
        assert obj.history.count() == records + 1, model


def test_leave_date_in_admin_ends_assignments(hr_client, ana, project, developer_role):
    dev = Assignment.objects.create(
        employee=ana, role=developer_role, project=project, level="R", start_date=D(2024, 1, 1)
    )
    url = reverse("admin:org_employee_change", args=[ana.pk])
    page = hr_client.get(url)
    response = hr_client.post(url, {**employee_post(ana, leave_date="2025-06-30"), **inline_management(page)})
    assert response.status_code == 302
    dev.refresh_from_db()
    assert dev.end_date == D(2025, 6, 30)


def test_leave_date_with_planned_assignment_is_a_form_error(hr_client, ana, project, developer_role):
    Assignment.objects.create(employee=ana, role=developer_role, project=project, level="R", start_date=D(2025, 9, 1))
    url = reverse("admin:org_employee_change", args=[ana.pk])
    page = hr_client.get(url)
    response = hr_client.post(url, {**employee_post(ana, leave_date="2025-06-30"), **inline_management(page)})
    assert response.status_code == 200
    assert "hand it over first" in response.content.decode()
    ana.refresh_from_db()
    assert ana.leave_date is None


def test_a_date_outside_the_years_kept_is_a_form_error(hr_client, ana):
    url = reverse("admin:org_employee_change", args=[ana.pk])
    page = hr_client.get(url)
    response = hr_client.post(url, {**employee_post(ana, hire_date="0224-03-15"), **inline_management(page)})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["hire_date"] == [
        "0224-03-15 is outside the years ProjMan keeps, 1900 to 2199; check the year."
    ]
    ana.refresh_from_db()
    assert ana.hire_date != D(224, 3, 15)


def test_duplicate_email_is_a_form_error(hr_client, ana, bob):
    url = reverse("admin:org_employee_change", args=[bob.pk])
    page = hr_client.get(url)
    response = hr_client.post(url, {**employee_post(bob, work_email=ana.work_email.upper()), **inline_management(page)})
    assert response.status_code == 200
    assert "Employee with this Work email already exists" in response.content.decode()


def test_department_cycle_is_a_form_error(hr_client, department):
    child = Department.objects.create(code="SUB", name="Sub", parent=department)
    url = reverse("admin:org_department_change", args=[department.pk])
    page = hr_client.get(url)
    data = {"code": department.code, "name": department.name, "parent": child.pk, "active": "on"}
    response = hr_client.post(url, {**data, **inline_management(page)})
    assert response.status_code == 200
    assert "No cycles in the department tree" in response.content.decode()


def test_making_a_department_inactive_warns_of_what_still_relies_on_it(hr_client, department, ana, bob, sponsor_role):
    Employee.objects.filter(pk__in=[ana.pk, bob.pk]).update(department=department)
    Employee.objects.filter(pk=bob.pk).update(leave_date=D(2020, 1, 1))  # left: relies on it no more
    Project.objects.create(code="OLD", name="Old", department=department, status="closed")
    Project.objects.create(code="NEW", name="New", department=department, status="active")
    Department.objects.create(code="SUB", name="Sub", parent=department)
    Department.objects.create(code="SHUT", name="Shut", parent=department, active=False)
    services.assignment_create(employee=ana, role=sponsor_role, target=department, start_date=D(2024, 1, 1))
    url = reverse("admin:org_department_change", args=[department.pk])
    page = hr_client.get(url)
    data = {"code": department.code, "name": department.name, "parent": ""}

    response = hr_client.post(url, {**data, **inline_management(page)}, follow=True)

    department.refresh_from_db()
    assert not department.active
    assert [str(m) for m in response.context["messages"] if m.level_tag == "warning"] == [
        "Finance (FIN) is inactive now but still has 1 assignment in force or to come, 1 employee at home there,"
        " 1 project not closed, 1 active sub-department; end or move them if it is closing."
    ]
    again = hr_client.post(url, {**data, **inline_management(page)}, follow=True)  # inactive already: no warning
    assert not [m for m in again.context["messages"] if m.level_tag == "warning"]


def test_assignments_cannot_be_deleted_by_staff(client, db, ana, project, developer_role):
    from django.contrib.auth.models import Group

    from org.access import HR_GROUP
    from tests.factories import UserFactory

    staff = UserFactory(username="pmo", is_staff=True)
    staff.groups.add(Group.objects.get(name=HR_GROUP))  # every permission, delete_assignment included
    client.force_login(staff)
    assignment = Assignment.objects.create(
        employee=ana, role=developer_role, project=project, level="R", start_date=D(2024, 1, 1)
    )
    response = client.post(reverse("admin:org_assignment_delete", args=[assignment.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Assignment.objects.filter(pk=assignment.pk).exists()


def test_autocomplete_answers(hr_client, ana):
    response = hr_client.get(
        reverse("admin:autocomplete"),
        {"term": "Ana", "app_label": "org", "model_name": "assignment", "field_name": "employee"},
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == str(ana.pk)


@pytest.mark.parametrize("model", [Department, Employee, Project, Role, Assignment])
def test_every_model_is_registered_with_history(model):
    from django.contrib import admin
    from simple_history.admin import SimpleHistoryAdmin

    assert isinstance(admin.site._registry[model], SimpleHistoryAdmin)


def test_add_project_page_names_the_errors(hr_client, department):
    response = hr_client.post(
        reverse("admin:org_project_add"),
        {
            "code": "X",
            "name": "X",
            "department": department.pk,
            "status": "active",
            "start_date": "2025-02-01",
            "end_date": "2025-01-01",
            **{f"{p}-{k}": "0" for p in ("assignments", "assignments-2") for k in ("TOTAL_FORMS", "INITIAL_FORMS")},
        },
    )
    assert response.status_code == 200
    assert "The end date cannot be before the start date." in response.content.decode()
    assert not Project.objects.exists()


def test_role_page_lists_levels(hr_client):
    Role.objects.create(name="Advisor", default_level=Level.CONSULTED)
    response = hr_client.get(reverse("admin:org_role_changelist"))
    assert "Consulted" in response.content.decode()


def test_an_allocation_over_100_is_a_form_error(hr_client, ana, project, developer_role):
    """The constraint's message holds a "%": formatted with the constraint's name, a bare one was a 500."""
    data = assignment_post(employee=ana.pk, role=developer_role.pk, project=project.pk, allocation=101)
    response = hr_client.post(reverse("admin:org_assignment_add"), data)
    assert response.status_code == 200
    assert "Allocation must be between 0 and 100 %." in response.content.decode()
    assert not Assignment.objects.exists()

    url = reverse("admin:org_project_change", args=[project.pk])
    page = hr_client.get(url)
    rows = [{"employee": ana.pk, "role": developer_role.pk, "allocation": 101}]
    response = hr_client.post(url, project_post(project, page, new_inline_prefix(page), rows))
    assert response.status_code == 200
    assert "Allocation must be between 0 and 100 %." in response.content.decode()
    assert not Assignment.objects.exists()


@pytest.mark.parametrize("model", [Department, Employee, Project, Role, Assignment])
def test_every_constraint_message_formats(model):
    """Django formats a constraint's message with its name: a bare "%" in one fails."""
    for constraint in model._meta.constraints:
        assert "%" not in constraint.get_violation_error_message().replace("100 %.", "")


def test_hand_over_on_the_start_of_a_running_assignment_is_a_form_error(hr_client, ana, bob, project, manager_role):
    pm = Assignment.objects.create(
        employee=ana, role=manager_role, project=project, level="A", start_date=D(2024, 1, 1)
    )
    response = hr_client.post(
        reverse("admin:org_assignment_changelist"),
        {
            "action": "hand_over",
            "_selected_action": [pm.pk],
            "apply": "1",
            "successor": bob.pk,
            "on_date": "0001-01-01",
        },
    )
    assert response.status_code == 200
    assert "the hand-over date must be after 2024-01-01" in str(response.context["form"].errors["on_date"])
    pm.refresh_from_db()
    assert (pm.employee, pm.end_date, Assignment.objects.count()) == (ana, None, 1)


def role_post(role: Role, **changes) -> dict[str, str]:
    data = {
        "name": role.name,
        "description": role.description,
        "applies_to": role.applies_to,
        "default_level": role.default_level,
    }
    if role.single_holder:
        data["single_holder"] = "on"
    data.update(changes)
    return data


def test_a_role_made_single_holder_while_two_hold_it_is_a_form_error(hr_client, ana, bob, carla, developer_role):
    owner = Department.objects.create(code="D", name="D")
    for i in range(5):
        target = Project.objects.create(code=f"P{i}", name=f"P{i}", department=owner)
        services.assignment_create(employee=ana, role=developer_role, target=target, start_date=D(2024, 1, 1))
        services.assignment_create(employee=bob, role=developer_role, target=target, start_date=D(2024, 6, 1))
    # One after the other is no conflict.
    one_by_one = Project.objects.create(code="P9", name="P9", department=owner)
    services.assignment_create(
        employee=ana, role=developer_role, target=one_by_one, start_date=D(2024, 1, 1), end_date=D(2024, 5, 31)
    )
    services.assignment_create(employee=carla, role=developer_role, target=one_by_one, start_date=D(2024, 6, 1))
    url = reverse("admin:org_role_change", args=[developer_role.pk])
    response = hr_client.post(url, role_post(developer_role, single_holder="on"))
    assert response.status_code == 200
    error = str(response.context["adminform"].form.errors["single_holder"])
    assert "10 assignments of Developer overlap another holder on the same target" in error
    assert "Ana García — Developer (Responsible) on P0" in error
    assert "P9" not in error
    developer_role.refresh_from_db()
    assert not developer_role.single_holder


def test_a_role_narrowed_to_departments_while_held_on_projects_is_a_form_error(
    hr_client, ana, project, department, sponsor_role
):
    services.assignment_create(employee=ana, role=sponsor_role, target=project, start_date=D(2024, 1, 1))
    services.assignment_create(employee=ana, role=sponsor_role, target=department, start_date=D(2024, 1, 1))
    url = reverse("admin:org_role_change", args=[sponsor_role.pk])
    response = hr_client.post(url, role_post(sponsor_role, applies_to="department"))
    assert response.status_code == 200
    error = str(response.context["adminform"].form.errors["applies_to"])
    assert "1 assignment of Sponsor is on a project" in error
    assert str(Assignment.objects.get(project=project)) in error
    sponsor_role.refresh_from_db()
    assert sponsor_role.applies_to == "both"
    assert hr_client.post(url, role_post(sponsor_role, description="Pays")).status_code == 302


def test_a_level_change_on_a_running_assignment_keeps_the_old_level_on_record(hr_client, ana, project, developer_role):
    today = timezone.localdate()
    dev = services.assignment_create(
        employee=ana, role=developer_role, target=project, start_date=D(2024, 1, 1), allocation=50, note="old"
    )
    url = reverse("admin:org_assignment_change", args=[dev.pk])
    data = assignment_post(
        employee=ana.pk, role=developer_role.pk, project=project.pk, start_date="2024-01-01", level="C", allocation=20
    )
    response = hr_client.post(url, data, follow=True)
    assert response.status_code == 200
    assert f"Consulted from {today.isoformat()}" in response.content.decode()
    dev.refresh_from_db()
    assert (dev.level, dev.allocation, dev.note, dev.end_date) == ("R", 50, "old", today - datetime.timedelta(days=1))
    new = Assignment.objects.exclude(pk=dev.pk).get()
    assert (new.level, new.allocation, new.start_date, new.end_date) == ("C", 20, today, None)
    assert new.history.get().history_change_reason.startswith("Level changed to Consulted")

    # The person, role, target or start date correct the whole record: not together with a level change.
    url = reverse("admin:org_assignment_change", args=[new.pk])
    data.update(start_date=today.isoformat(), level="I")
    response = hr_client.post(url, data)
    assert response.status_code == 302  # starts today: simply changed
    new.refresh_from_db()
    assert new.level == "I"
    assert Assignment.objects.count() == 2


def test_a_level_change_with_a_new_start_date_on_a_running_assignment_is_a_form_error(
    hr_client, ana, project, developer_role
):
    dev = services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2024, 1, 1))
    data = assignment_post(
        employee=ana.pk, role=developer_role.pk, project=project.pk, start_date="2024-02-01", level="C"
    )
    response = hr_client.post(reverse("admin:org_assignment_change", args=[dev.pk]), data)
    assert response.status_code == 200
    assert "on its own" in str(response.context["adminform"].form.errors["level"])
    dev.refresh_from_db()
    assert (dev.level, dev.start_date, Assignment.objects.count()) == ("R", D(2024, 1, 1), 1)


def test_a_level_change_on_an_ended_assignment_corrects_the_record(hr_client, ana, project, developer_role):
    """Nothing of an ended assignment runs from today: its level is a record of the past, corrected in place (the
    audit trail keeps what it was)."""
    dev = services.assignment_create(
        employee=ana, role=developer_role, target=project, start_date=D(2024, 1, 1), end_date=D(2024, 12, 31)
    )
    data = assignment_post(
        employee=ana.pk, role=developer_role.pk, project=project.pk, end_date="2024-12-31", level="C"
    )
    data["start_date"] = "2024-01-01"
    response = hr_client.post(reverse("admin:org_assignment_change", args=[dev.pk]), data)
    assert response.status_code == 302
    dev.refresh_from_db()
    assert (dev.level, dev.end_date, Assignment.objects.count()) == ("C", D(2024, 12, 31), 1)
    assert dev.history.first().prev_record.level == "R"


def test_a_level_change_with_an_end_date_before_today_says_why(hr_client, ana, project, developer_role):
    """The new level runs from today: an end date before today cannot come with it (the error used to be about the
    start date, which the user had not touched)."""
    dev = services.assignment_create(employee=ana, role=developer_role, target=project, start_date=D(2024, 1, 1))
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    data = assignment_post(
        employee=ana.pk, role=developer_role.pk, project=project.pk, end_date=yesterday.isoformat(), level="C"
    )
    data["start_date"] = "2024-01-01"
    response = hr_client.post(reverse("admin:org_assignment_change", args=[dev.pk]), data)
    assert response.status_code == 200
    assert "The new level runs from today" in str(response.context["adminform"].form.errors["end_date"])
    dev.refresh_from_db()
    assert (dev.level, dev.end_date, Assignment.objects.count()) == ("R", None, 1)


def test_an_employee_with_reports_cannot_be_deleted_until_they_are_reassigned(hr_client, ana, bob):
    """Deleting a manager used to clear their reports' manager silently, with no audit-trail row for it."""
    Employee.objects.filter(pk=bob.pk).update(manager=ana)
    url = reverse("admin:org_employee_delete", args=[ana.pk])
    page = hr_client.get(url)
    assert page.status_code == 200
    assert "Bob Smith" in page.content.decode()  # the reports that must be reassigned first
    assert page.context["protected"]
    assert hr_client.post(url, {"post": "yes"}).status_code == 200
    assert Employee.objects.filter(pk=ana.pk).exists()
    bob.refresh_from_db()
    assert bob.manager == ana
    with pytest.raises(ProtectedError):
        ana.delete()


def key_form_errors(client, model: str, field: str, value: str, department: Department) -> str:
    """The errors of ``field`` when the admin's add form of ``model`` is posted with ``value`` in it."""
    data = {
        "department": {"code": "HR", "name": "HR", "active": "on"},
        "project": {"code": "ERP", "name": "ERP", "department": department.pk, "status": "active"},
        "employee": {"employee_number": "E42", "first_name": "Ana", "last_name": "Li", "work_email": "a@x.com"},
        "role": {"name": "Lead", "applies_to": "both", "default_level": "R"},
    }[model] | {field: value}
    page = client.get(reverse(f"admin:org_{model}_add"))
    response = client.post(reverse(f"admin:org_{model}_add"), {**data, **inline_management(page)})
    assert response.status_code == 200
    return str(response.context["adminform"].form.errors[field])


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        ("department", "code", "HR/1"),
        ("project", "code", "ERP/2"),
        ("employee", "employee_number", "HR/0042"),
        ("department", "code", ".."),
        ("project", "code", "."),
    ],
)
def test_a_slash_in_a_code_or_number_is_a_form_error(hr_client, department, model, field, value):
    """The staff pages' addresses hold codes and numbers (/employees/<number>/): a "/" in one broke them, and a
    browser reads /projects/../ as the folder above."""
    errors = key_form_errors(hr_client, model, field, value, department)
    assert "would break the address of its page" in errors
    assert not Employee.objects.exists() and Department.objects.count() == 1 and not Project.objects.exists()


@pytest.mark.parametrize(
    ("model", "field", "value", "char"),
    [
        ("department", "code", "HR\u200b", "U+200B ZERO WIDTH SPACE"),
        ("project", "code", "ERP\u00a02", "U+00A0 NO-BREAK SPACE"),
        ("employee", "employee_number", "\u2060E42", "U+2060 WORD JOINER"),
        ("role", "name", "Lead\u200d", "U+200D ZERO WIDTH JOINER"),
    ],
)
def test_an_invisible_character_in_a_key_is_a_form_error(hr_client, department, model, field, value, char):
    """A code with a zero-width space looks like the code without it and is another row."""
    errors = key_form_errors(hr_client, model, field, value, department)
    assert f"holds an invisible or unusual character, {char}" in errors
    assert not Employee.objects.exists() and Department.objects.count() == 1 and not Project.objects.exists()


@pytest.mark.parametrize(
    ("model", "field", "value", "char"),
    [
        ("department", "name", "Sales\x0cEMEA", "U+000C CONTROL CHARACTER"),
        ("project", "name", "ERP\x1fLab", "U+001F CONTROL CHARACTER"),
        ("employee", "last_name", "Li\x85Wu", "U+0085 CONTROL CHARACTER"),
        ("employee", "job_title", "Lead\x1b", "U+001B CONTROL CHARACTER"),
    ],
)
def test_a_control_character_in_a_name_is_a_form_error(hr_client, department, model, field, value, char):
    """A name an import would refuse cannot be saved either: what the admin stores exports and imports back."""
    errors = key_form_errors(hr_client, model, field, value, department)
    assert f"holds a control character, {char}, at position" in errors
    assert not Employee.objects.exists() and Department.objects.count() == 1 and not Project.objects.exists()


def test_employees_of_the_same_name_are_told_apart_in_the_pickers(hr_client, ana, project, developer_role):
    namesake = Employee.objects.create(
        employee_number="E1001", first_name="Ana", last_name="García", work_email="ana2@example.com"
    )
    for model_name, field_name in [("assignment", "employee"), ("employee", "manager")]:
        response = hr_client.get(
            reverse("admin:autocomplete"),
            {"term": "Ana", "app_label": "org", "model_name": model_name, "field_name": field_name},
        )
        assert {r["text"] for r in response.json()["results"]} >= {"Ana García (E1)", "Ana García (E1001)"}

    pm = Assignment.objects.create(
        employee=ana, role=developer_role, project=project, level="R", start_date=D(2024, 1, 1)
    )
    page = hr_client.get(reverse("admin:org_assignment_change", args=[pm.pk]))
    assert "Ana García (E1)</option>" in page.content.decode()  # the value chosen, as the picker shows it
    response = hr_client.post(
        reverse("admin:org_assignment_changelist"),
        {"action": "hand_over", "_selected_action": [pm.pk], "apply": "1", "successor": namesake.pk, "on_date": "x"},
    )
    assert "Ana García (E1001)</option>" in response.content.decode()
    assert str(ana) == "Ana García"  # everywhere else, a name


def test_a_leave_date_saved_in_the_admin_is_one_change(hr_client, hr_admin, ana, project, developer_role):
    Assignment.objects.create(employee=ana, role=developer_role, project=project, level="R", start_date=D(2024, 1, 1))
    url = reverse("admin:org_employee_change", args=[ana.pk])
    page = hr_client.get(url)
    data = {**employee_post(ana, leave_date="2025-06-30", job_title="Retired"), **inline_management(page)}
    assert hr_client.post(url, data).status_code == 302
    changes = list(ana.history.order_by("history_id"))
    assert [c.history_type for c in changes] == ["+", "~"]
    assert (changes[1].leave_date, changes[1].job_title, changes[1].history_user) == (
        D(2025, 6, 30),
        "Retired",
        hr_admin,
    )


@pytest.mark.parametrize("model", ["department", "employee", "project", "role", "assignment"])
def test_a_search_too_long_for_the_database_is_cut_with_a_message(admin_client, model):
    """A thousand words made SQLite refuse the query ("Expression tree is too large"), answered as an outage."""
    build_company(5)
    response = admin_client.get(reverse(f"admin:org_{model}_changelist"), {"q": " ".join(["g"] * 1000)})
    assert response.status_code == 200
    assert any("The search is too long" in str(m) for m in response.context["messages"])


def new_row_on(page, **row) -> dict[str, str]:
    """The employee page's inline management form with one new assignment row of ``row``."""
    data = inline_management(page)
    formset = next(f.formset for f in page.context["inline_admin_formsets"] if type(f.opts).__name__.startswith("New"))
    data[f"{formset.prefix}-TOTAL_FORMS"] = "1"
    defaults = {"level": "I", "department": "", "end_date": "", "allocation": ""}
    data.update({f"{formset.prefix}-0-{name}": value for name, value in {**defaults, **row}.items()})
    return data


def test_a_new_assignment_saved_with_a_leave_date_is_checked_against_it(
    hr_client, ana, project, developer_role, manager_role
):
    """The leave date typed on the page is the one the new row must respect, not the stored one (none)."""
    Assignment.objects.create(employee=ana, role=developer_role, project=project, level="R", start_date=D(2024, 1, 1))
    url = reverse("admin:org_employee_change", args=[ana.pk])
    row = new_row_on(hr_client.get(url), role=manager_role.pk, project=project.pk, start_date="2025-01-01")
    response = hr_client.post(url, {**employee_post(ana, leave_date="2025-06-30"), **row})
    assert response.status_code == 200
    assert "left on 2025-06-30; the assignment must end by then" in response.content.decode()
    ana.refresh_from_db()
    assert ana.leave_date is None and Assignment.objects.filter(employee=ana).count() == 1


def test_a_rehire_and_their_new_assignment_are_saved_together(hr_client, ana, project, manager_role):
    """Clearing the leave date on the page lets a new row start after the old one."""
    Employee.objects.filter(pk=ana.pk).update(leave_date=D(2025, 6, 30))
    ana.refresh_from_db()
    url = reverse("admin:org_employee_change", args=[ana.pk])
    row = new_row_on(hr_client.get(url), role=manager_role.pk, project=project.pk, start_date="2026-01-01")
    response = hr_client.post(url, {**employee_post(ana, leave_date=""), **row})
    assert response.status_code == 302, response.context["errors"] if response.context else response
    ana.refresh_from_db()
    assert ana.leave_date is None
    assert Assignment.objects.get(employee=ana).start_date == D(2026, 1, 1)


def test_admin_searches_ignore_case_and_accents_on_every_database(hr_client, department):
    """As the staff pages' search does (org.filters' folded lookups): SQLite compared accents and non-ASCII case."""
    Employee.objects.create(employee_number="E7", first_name="José", last_name="Martínez", work_email="jm@example.com")
    Department.objects.create(code="EQP", name="Équipe Ñandú")
    for term in ("martinez", "MARTÍNEZ", "jose martinez"):
        found = hr_client.get(reverse("admin:org_employee_changelist"), {"q": term}).context["cl"].result_list
        assert [e.last_name for e in found] == ["Martínez"], term
    answer = hr_client.get(
        reverse("admin:autocomplete"),
        {"term": "equipe nandu", "app_label": "org", "model_name": "project", "field_name": "department"},
    ).json()
    assert [item["text"] for item in answer["results"]] == [str(Department.objects.get(code="EQP"))]


def test_reopening_an_ended_assignment_with_a_new_level_is_a_form_error(hr_client, ana, project, developer_role):
    """Corrected in place, it would have held the new level from its first day: the level it had is on record."""
    today = timezone.localdate()
    start, end = today - datetime.timedelta(days=400), today - datetime.timedelta(days=30)
    dev = services.assignment_create(employee=ana, role=developer_role, target=project, start_date=start, end_date=end)
    data = assignment_post(employee=ana.pk, role=developer_role.pk, project=project.pk, end_date="", level="A")
    data["start_date"] = start.isoformat()
    response = hr_client.post(reverse("admin:org_assignment_change", args=[dev.pk]), data)
    assert response.status_code == 200
    assert "reopen it and change its level apart" in str(response.context["adminform"].form.errors["level"])
    dev.refresh_from_db()
    assert (dev.level, dev.end_date, Assignment.objects.count()) == ("R", end, 1)

"""Who may see and change what in the admin (org.access), persona by persona.

The company: ROOT with departments A (and A1 under it) and B; project PA owned by A1, PB by B. Personas:
``hr`` (HR administrators group, not a superuser), ``manager_a`` and ``manager_b`` (hold the Accountable
assignment on A and on B, through the login user linked to their employee record), ``viewer`` (Viewers group),
``leaver`` (HR group and staff flag, but their employee record has left), ``anonymous``; at the end, ``pm``, the
Project Manager (Accountable) of PA, who heads no department.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from org import services
from org.access import HR_GROUP, VIEWER_GROUP
from org.models import AppliesTo, Assignment, Department, Level, Project
from tests.factories import DepartmentFactory, EmployeeFactory, ProjectFactory, RoleFactory, UserFactory
from tests.test_admin import employee_post

PERSONAS = ("hr", "manager_a", "manager_b", "viewer", "leaver", "anonymous")
LAST_YEAR = datetime.date(2025, 1, 1)


@dataclass
class Company:
    departments: dict[str, Department]
    projects: dict[str, Project]
    assignments: dict[str, Assignment]
    clients: dict[str, Client] = field(default_factory=dict)
    users: dict = field(default_factory=dict)

    def client(self, persona: str) -> Client:
        return self.clients[persona]


def _user(name: str, *groups: str, employee=None, **flags):
    user = UserFactory(username=name, **flags)
    for group in groups:
        user.groups.add(Group.objects.get(name=group))
    if employee is not None:
        employee.user = user
        employee.save()
    return user


@pytest.fixture
def company(db) -> Company:
    root = DepartmentFactory(code="ROOT")
    a = DepartmentFactory(code="A", parent=root)
    a1 = DepartmentFactory(code="A1", parent=a)
    b = DepartmentFactory(code="B", parent=root)
    pa = ProjectFactory(code="PA", department=a1)
    pb = ProjectFactory(code="PB", department=b)
    head = RoleFactory(
        name="Head", applies_to=AppliesTo.DEPARTMENT, default_level=Level.ACCOUNTABLE, single_holder=True
    )
    developer = RoleFactory(name="Developer", applies_to=AppliesTo.BOTH, default_level=Level.RESPONSIBLE)
    alice, bruno, dev = EmployeeFactory(department=a), EmployeeFactory(department=b), EmployeeFactory(department=a1)
    gone = EmployeeFactory(department=a, leave_date=timezone.localdate() - datetime.timedelta(days=1))

    def assign(employee, role, level, target):
        return services.assignment_create(
            employee=employee, role=role, level=level, target=target, start_date=LAST_YEAR, allocation=20
        )

    assignments = {
        "head_a": assign(alice, head, Level.ACCOUNTABLE, a),
        "head_b": assign(bruno, head, Level.ACCOUNTABLE, b),
        "dev_a1": assign(dev, developer, Level.RESPONSIBLE, a1),
        "dev_pa": assign(dev, developer, Level.RESPONSIBLE, pa),
        "dev_pb": assign(dev, developer, Level.RESPONSIBLE, pb),
    }
    found = Company({"ROOT": root, "A": a, "A1": a1, "B": b}, {"PA": pa, "PB": pb}, assignments)
    found.users = {
        "hr": _user("hr", HR_GROUP, is_staff=True),
        "manager_a": _user("manager_a", employee=alice),
        "manager_b": _user("manager_b", employee=bruno),
        "viewer": _user("viewer", VIEWER_GROUP),
        "leaver": _user("leaver", HR_GROUP, VIEWER_GROUP, employee=gone, is_staff=True),
    }
    for persona in PERSONAS:
        found.clients[persona] = Client()
        if persona in found.users:
            found.clients[persona].force_login(found.users[persona])
    return found


def enters(response) -> bool:
    """The admin answered the page itself, not a redirect to its login page."""
    return response.status_code == 200


# --- Entering the admin -------------------------------------------------------------------------------------

MAY_ENTER_ADMIN = {
    "hr": True,
    "manager_a": True,
    "manager_b": True,
    "viewer": False,
    "leaver": False,
    "anonymous": False,
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("model", ["department", "employee", "project", "role", "assignment"])
def test_who_enters_each_changelist(company, persona, model):
    response = company.client(persona).get(reverse(f"admin:org_{model}_changelist"))
    assert enters(response) is MAY_ENTER_ADMIN[persona]
    if not MAY_ENTER_ADMIN[persona]:
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("persona", PERSONAS)
def test_healthz_answers_everyone(company, persona):
    assert company.client(persona).get("/healthz").status_code == 200


# --- What each sees ---------------------------------------------------------------------------------------------

VISIBLE_ASSIGNMENTS = {
    "hr": {"head_a", "head_b", "dev_a1", "dev_pa", "dev_pb"},
    "manager_a": {"head_a", "dev_a1", "dev_pa"},
    "manager_b": {"head_b", "dev_pb"},
}


@pytest.mark.parametrize("persona", VISIBLE_ASSIGNMENTS)
def test_the_assignment_list_holds_the_scope(company, persona):
    response = company.client(persona).get(reverse("admin:org_assignment_changelist"))
    shown = {a.pk for a in response.context["cl"].result_list}
    assert shown == {company.assignments[name].pk for name in VISIBLE_ASSIGNMENTS[persona]}


@pytest.mark.parametrize(
    ("persona", "departments", "projects"),
    [("hr", {"ROOT", "A", "A1", "B"}, {"PA", "PB"}), ("manager_a", {"A", "A1"}, {"PA"}), ("manager_b", {"B"}, {"PB"})],
)
def test_department_and_project_lists_and_autocompletes_hold_the_scope(company, persona, departments, projects):
    client = company.client(persona)
    listed = client.get(reverse("admin:org_department_changelist")).context["cl"].result_list
    assert {d.code for d in listed} == departments
    listed = client.get(reverse("admin:org_project_changelist")).context["cl"].result_list
    assert {p.code for p in listed} == projects
    expected = {
        "department": {company.departments[code].pk for code in departments},
        "project": {company.projects[code].pk for code in projects},
    }
    for name, ids in expected.items():
        answer = client.get(
            reverse("admin:autocomplete"),
            {"term": "", "app_label": "org", "model_name": "assignment", "field_name": name},
        ).json()
        assert {int(item["id"]) for item in answer["results"]} == ids


@pytest.mark.parametrize("page", ["change", "history", "delete"])
@pytest.mark.parametrize(
    ("persona", "assignment", "status"),
    [
        ("hr", "dev_pb", 200),
        ("manager_a", "dev_pa", 200),
        ("manager_a", "dev_pb", 404),
        ("manager_a", "head_b", 404),
        ("manager_b", "dev_pa", 404),
        ("manager_b", "dev_pb", 200),
    ],
)
def test_an_assignment_outside_the_scope_answers_404(company, page, persona, assignment, status):
    response = company.client(persona).get(
        reverse(f"admin:org_assignment_{page}", args=[company.assignments[assignment].pk])
    )
    if page == "delete" and status == 200:
        status = 403  # assignments are ended, not deleted (superusers only)
    assert response.status_code == status
    if status == 404:
        assert company.assignments[assignment].employee.last_name not in response.content.decode()


@pytest.mark.parametrize(
    ("persona", "url_name", "target", "status"),
    [
        ("manager_a", "admin:org_department_change", "A", 200),  # may read it…
        ("manager_a", "admin:org_department_change", "B", 404),
        ("manager_a", "admin:org_department_history", "B", 404),
        ("manager_a", "admin:org_project_change", "PB", 404),
        ("manager_a", "admin:org_project_history", "PB", 404),
        ("manager_b", "admin:org_project_change", "PA", 404),
    ],
)
def test_departments_and_projects_outside_the_scope_answer_404(company, persona, url_name, target, status):
    obj = company.departments.get(target) or company.projects[target]
    assert company.client(persona).get(reverse(url_name, args=[obj.pk])).status_code == status


# --- What each may change -----------------------------------------------------------------------------------------


def assignment_form(assignment: Assignment, **changes) -> dict:
    data = {
        "employee": assignment.employee_id,
        "role": assignment.role_id,
        "department": assignment.department_id or "",
        "project": assignment.project_id or "",
        "level": assignment.level,
        "start_date": assignment.start_date.isoformat(),
        "end_date": assignment.end_date.isoformat() if assignment.end_date else "",
        "allocation": assignment.allocation if assignment.allocation is not None else "",
        "note": assignment.note,
    }
    return {**data, **changes}


def test_a_manager_ends_an_assignment_in_their_scope(company):
    dev_pa = company.assignments["dev_pa"]
    end = timezone.localdate().isoformat()
    response = company.client("manager_a").post(
        reverse("admin:org_assignment_change", args=[dev_pa.pk]), assignment_form(dev_pa, end_date=end)
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    dev_pa.refresh_from_db()
    assert dev_pa.end_date == timezone.localdate()


def test_a_manager_adds_an_assignment_in_their_scope_only(company):
    client = company.client("manager_a")
    template = company.assignments["dev_pa"]
    newcomer = EmployeeFactory()
    inside = assignment_form(template, employee=newcomer.pk, start_date=timezone.localdate().isoformat())
    assert client.post(reverse("admin:org_assignment_add"), inside).status_code == 302
    assert Assignment.objects.filter(employee=newcomer, project=company.projects["PA"]).exists()

    outside = {**inside, "project": company.projects["PB"].pk}
    response = client.post(reverse("admin:org_assignment_add"), outside)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Assignment.objects.filter(employee=newcomer, project=company.projects["PB"]).exists()


@pytest.mark.parametrize("target", ["ROOT", "B"])
def test_a_manager_cannot_widen_their_scope_through_their_own_assignment(company, target):
    head_a = company.assignments["head_a"]
    response = company.client("manager_a").post(
        reverse("admin:org_assignment_change", args=[head_a.pk]),
        assignment_form(head_a, department=company.departments[target].pk),
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    head_a.refresh_from_db()
    assert head_a.department_id == company.departments["A"].pk


def test_a_manager_cannot_make_themselves_accountable_elsewhere(company):
    head_a = company.assignments["head_a"]
    data = assignment_form(head_a, department=company.departments["ROOT"].pk, start_date="2026-01-01")
    response = company.client("manager_a").post(reverse("admin:org_assignment_add"), data)
    assert response.status_code == 200
    assert not Assignment.objects.filter(department=company.departments["ROOT"]).exists()


def test_a_manager_cannot_move_a_project_to_their_department(company):
    pb = company.projects["PB"]
    response = company.client("manager_a").post(
        reverse("admin:org_project_change", args=[pb.pk]),
        {"code": pb.code, "name": pb.name, "department": company.departments["A"].pk, "status": pb.status},
    )
    assert response.status_code == 404
    pb.refresh_from_db()
    assert pb.department == company.departments["B"]


def test_a_manager_cannot_move_their_own_project_or_department(company):
    """Even inside the scope: departments and projects are HR's to change (read-only pages, 403 on a POST)."""
    pa, a1 = company.projects["PA"], company.departments["A1"]
    client = company.client("manager_a")
    response = client.post(
        reverse("admin:org_project_change", args=[pa.pk]),
        {"code": pa.code, "name": pa.name, "department": company.departments["B"].pk, "status": pa.status},
    )
    assert response.status_code == 403
    response = client.post(
        reverse("admin:org_department_change", args=[a1.pk]), {"code": a1.code, "name": a1.name, "parent": ""}
    )
    assert response.status_code == 403
    pa.refresh_from_db()
    a1.refresh_from_db()
    assert (pa.department.code, a1.parent.code) == ("A1", "A")


def test_a_manager_cannot_add_through_a_department_inline(company):
    """The department page's "new assignments" inline, posted by hand: the page is read-only for a manager."""
    a1 = company.departments["A1"]
    dev = company.assignments["dev_a1"]
    response = company.client("manager_a").post(
        reverse("admin:org_department_change", args=[a1.pk]),
        {"code": a1.code, "name": a1.name, "parent": company.departments["ROOT"].pk, "employee": dev.employee_id},
    )
    assert response.status_code == 403
    assert Assignment.objects.filter(department=a1).count() == 1


def test_actions_reach_only_the_scope(company):
    """ "End today" posted with an id outside the scope ends only what lies inside it."""
    inside, outside = company.assignments["dev_pa"], company.assignments["dev_pb"]
    response = company.client("manager_a").post(
        reverse("admin:org_assignment_changelist"),
        {"action": "end_today", "_selected_action": [inside.pk, outside.pk]},
    )
    assert response.status_code == 302
    inside.refresh_from_db()
    outside.refresh_from_db()
    assert inside.end_date == timezone.localdate()
    assert outside.end_date is None


@pytest.mark.parametrize("persona", ["hr", "manager_a"])
@pytest.mark.parametrize("field", ["employee", "role", "project"])
@pytest.mark.parametrize("value", ["abc", "9" * 30, "-1"])
def test_a_posted_pick_that_cannot_be_an_id_is_a_form_error(company, persona, field, value):
    """Django's autocomplete looked such a value up to draw the form again, and failed with a 500."""
    dev_pa = company.assignments["dev_pa"]
    before = assignment_form(dev_pa)
    response = company.client(persona).post(
        reverse("admin:org_assignment_change", args=[dev_pa.pk]), assignment_form(dev_pa, **{field: value})
    )
    assert response.status_code == 200
    assert "Select a valid choice" in str(response.context["adminform"].form.errors[field])
    assert 'name="_save"' in response.content.decode()  # drawn again editable, for the error to be corrected
    dev_pa.refresh_from_db()
    assert assignment_form(dev_pa) == before


def test_a_managers_form_with_a_target_outside_the_scope_stays_editable_and_says_why(company):
    """The scope was checked on the half-changed instance: the page turned read-only and hid the field's error."""
    dev_pa = company.assignments["dev_pa"]
    response = company.client("manager_a").post(
        reverse("admin:org_assignment_change", args=[dev_pa.pk]),
        assignment_form(dev_pa, project="", department=company.departments["B"].pk),
    )
    assert response.status_code == 200
    assert "Select a valid choice" in str(response.context["adminform"].form.errors["department"])
    assert 'name="_save"' in response.content.decode()
    dev_pa.refresh_from_db()
    assert (dev_pa.project, dev_pa.department) == (company.projects["PA"], None)


@pytest.mark.parametrize("selected", [["abc"], ["9" * 30], ["abc", "dev_pa"]])
def test_an_action_on_ids_that_cannot_be_ids_leaves_them_out(company, selected):
    ids = [str(company.assignments[v].pk) if v in company.assignments else v for v in selected]
    response = company.client("hr").post(
        reverse("admin:org_assignment_changelist"), {"action": "end_today", "_selected_action": ids}, follow=True
    )
    assert response.status_code == 200
    ended = Assignment.objects.filter(end_date=timezone.localdate())
    assert list(ended) == ([company.assignments["dev_pa"]] if "dev_pa" in selected else [])


@pytest.mark.parametrize(
    "query",
    [
        "department_tree=99999999999999999999",
        "department_tree=-99999999999999999999",
        "start_date__year=-1",
        "start_date__year=99999999999999999999",
        "start_date__year=2024&start_date__month=99999999999999999999",
        "start_date__year=2024&start_date__month=2&start_date__day=30",
    ],
)
@pytest.mark.parametrize("model", ["assignment", "project", "department", "employee"])
def test_a_list_lookup_the_database_cannot_run_is_flagged_not_a_500(company, model, query):
    response = company.client("hr").get(f"/admin/org/{model}/?{query}")
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:
        assert response["Location"].endswith("?e=1")


def test_a_manager_may_not_import(company):
    client = company.client("manager_a")
    assert client.get(reverse("admin:org_assignment_import")).status_code == 403
    assert "import_url" not in client.get(reverse("admin:org_assignment_changelist")).context


def test_access_ends_with_the_assignment(company):
    client = company.client("manager_a")
    assert enters(client.get(reverse("admin:org_assignment_changelist")))
    services.assignments_end(
        assignments=[company.assignments["head_a"]], end_date=timezone.localdate() - datetime.timedelta(days=1)
    )
    response = client.get(reverse("admin:org_assignment_changelist"))
    assert response.status_code == 302


# --- Fuzz: every persona, odd URLs and crafted posts -----------------------------------------------------------

ODD_IDS = ["0", "-1", "999999", "abc", "1%27", "1;2", "%00", "9" * 30]


def fuzz_urls(company: Company, rng) -> list[str]:
    ids = [str(obj.pk) for obj in [*company.departments.values(), *company.projects.values()]]
    ids += [str(a.pk) for a in company.assignments.values()] + ODD_IDS
    urls = []
    for model in ("department", "employee", "project", "role", "assignment"):
        for view in ("change", "history", "delete"):
            urls += [f"/admin/org/{model}/{rng.choice(ids)}/{view}/" for _ in range(4)]
        urls += [
            f"/admin/org/{model}/?q={rng.choice(['B', 'PB', 'A', '%', '_', 'x' * 300])}",
            f"/admin/org/{model}/?department_tree={rng.choice(ids)}",
            f"/admin/org/{model}/?o={rng.choice(['1', '-2', '99', 'x'])}&p={rng.choice(['2', '-1', 'x'])}",
            f"/admin/org/{model}/?project__id__exact={rng.choice(ids)}&department__id__exact={rng.choice(ids)}",
            f"/admin/org/{model}/import/",
        ]
    for model, field_name in [
        ("assignment", "department"),
        ("assignment", "project"),
        ("project", "department"),
        ("department", "parent"),
        ("employee", "manager"),
        ("x", "y"),
    ]:
        urls.append(f"/admin/autocomplete/?app_label=org&model_name={model}&field_name={field_name}&term=")
    return urls


@pytest.mark.parametrize("persona", PERSONAS)
def test_fuzzed_admin_urls_never_fail_nor_open_another_scope(company, persona):
    import random

    rng = random.Random(f"access-{persona}")
    outside = {
        "manager_a": [company.assignments[n] for n in ("head_b", "dev_pb")] + [company.projects["PB"]],
        "manager_b": [company.assignments[n] for n in ("head_a", "dev_a1", "dev_pa")] + [company.projects["PA"]],
    }.get(persona, [])
    forbidden_pages = {
        f"/admin/org/{obj._meta.model_name}/{obj.pk}/{view}/" for obj in outside for view in ("change", "history")
    }
    client = company.client(persona)
    for url in fuzz_urls(company, rng):
        response = client.get(url)
        assert response.status_code in {200, 302, 400, 403, 404}, (url, response.status_code)
        if url in forbidden_pages:
            assert response.status_code == 404, url


@pytest.mark.parametrize("persona", ["manager_a", "manager_b", "viewer", "leaver", "anonymous"])
def test_crafted_posts_never_change_what_lies_outside_the_scope(company, persona):
    import random

    rng = random.Random(f"posts-{persona}")
    before = {a.pk: assignment_form(a) for a in Assignment.objects.all()}
    count = Assignment.objects.count()
    client = company.client(persona)
    targets = [d.pk for d in company.departments.values()]
    projects = [p.pk for p in company.projects.values()]
    for assignment in company.assignments.values():
        for _ in range(3):
            data = assignment_form(
                assignment,
                department=rng.choice([*targets, ""]),
                project=rng.choice([*projects, ""]),
                end_date=rng.choice(["", "2026-01-01", "not a date"]),
            )
            response = client.post(reverse("admin:org_assignment_change", args=[assignment.pk]), data)
            assert response.status_code in {200, 302, 403, 404}
        response = client.post(
            reverse("admin:org_assignment_changelist"), {"action": "end_today", "_selected_action": [assignment.pk]}
        )
        assert response.status_code in {200, 302, 403}
    scope = {
        "manager_a": {"head_a", "dev_a1", "dev_pa"},
        "manager_b": {"head_b", "dev_pb"},
    }.get(persona, set())
    for name, assignment in company.assignments.items():
        if name not in scope:
            assignment.refresh_from_db()
            assert assignment_form(assignment) == before[assignment.pk], f"{persona} changed {name}"
    # A change that moves an assignment may end it and start another: only ever on a target in the scope.
    targets_in_scope = {
        "manager_a": ({company.departments["A"].pk, company.departments["A1"].pk}, {company.projects["PA"].pk}),
        "manager_b": ({company.departments["B"].pk}, {company.projects["PB"].pk}),
    }.get(persona, (set(), set()))
    for new in Assignment.objects.exclude(pk__in=before):
        assert new.department_id in targets_in_scope[0] or new.project_id in targets_in_scope[1], new
    assert Assignment.objects.count() >= count


# --- Staff pages ----------------------------------------------------------------------------------------------

STAFF_PAGES = [
    "/",
    "/gaps/projects-without-accountable/",
    "/responsible/?q=a",
    "/responsible/?_export=csv",
    "/projects/",
    "/projects/PA/",
    "/projects/PB/?_export=xlsx&_table=team",
    "/departments/",
    "/departments/B/",
    "/employees/",
    "/employees/?_export=csv",
]
MAY_READ_PAGES = {"hr": 200, "manager_a": 200, "manager_b": 200, "viewer": 200, "leaver": 403, "anonymous": 302}


@pytest.mark.parametrize("persona", PERSONAS)
def test_who_reads_the_staff_pages_and_their_exports(company, persona):
    client = company.client(persona)
    for path in STAFF_PAGES:
        response = client.get(path)
        assert response.status_code == MAY_READ_PAGES[persona], path
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("login"))
        if response.status_code == 403:
            assert "may not open this page" in response.content.decode()


def test_an_account_in_no_group_reads_nothing(company):
    client = Client()
    client.force_login(UserFactory(username="nobody-in-particular"))
    for path in STAFF_PAGES:
        assert client.get(path).status_code == 403, path
    assert client.get(reverse("admin:index")).status_code == 302


@pytest.mark.parametrize(("persona", "shown"), [("hr", True), ("manager_a", True), ("viewer", False)])
def test_the_admin_link_shows_to_those_who_may_enter(company, persona, shown):
    page = company.client(persona).get("/").content.decode()
    assert (f'href="{reverse("admin:index")}"' in page) is shown


def test_the_view_permission_given_to_the_account_itself_opens_the_pages(company):
    from django.contrib.auth.models import Permission

    user = UserFactory(username="auditor")
    user.user_permissions.add(Permission.objects.get(content_type__app_label="org", codename="view_assignment"))
    client = Client()
    client.force_login(user)
    assert client.get("/responsible/").status_code == 200


@pytest.mark.parametrize("persona", PERSONAS)
def test_fuzzed_staff_page_urls_never_fail(company, persona):
    import random

    rng = random.Random(f"pages-{persona}")
    odd = [*ODD_IDS, "PA", "B", "ROOT", "", "%25", "../admin"]
    paths = ["/responsible/", "/projects/", "/employees/", "/departments/", "/gaps/unassigned/"]
    paths += [
        f"/{kind}/{rng.choice(odd)}/" for kind in ("projects", "departments", "employees", "gaps") for _ in range(3)
    ]
    parameters = ["q", "role", "level", "department", "project_status", "as_of", "page", "sort", "_export", "_table"]
    parameters += ["history_page", "matrix_page"]
    client = company.client(persona)
    for path in paths:
        for _ in range(4):
            query = "&".join(f"{name}={rng.choice(odd)}" for name in rng.sample(parameters, 3))
            response = client.get(f"{path}?{query}")
            assert response.status_code in {200, 302, 400, 403, 404}, (path, query, response.status_code)
            assert response.status_code == MAY_READ_PAGES[persona] or response.status_code in {400, 404}


# The change history on the staff pages: which object's changes (its own row, each assignment on it) each persona
# sees. The developer's page shows their own changes to HR and to A's manager (the developer's home department is
# A1), and to each manager only their assignments in that manager's scope.
HISTORY_SEEN = {
    "hr": {
        "/projects/PA/": {"PA", "dev_pa"},
        "/projects/PB/": {"PB", "dev_pb"},
        "/departments/A1/": {"A1", "dev_a1"},
        "/departments/B/": {"B", "head_b"},
        "developer": {"developer", "dev_a1", "dev_pa", "dev_pb"},
    },
    "manager_a": {
        "/projects/PA/": {"PA", "dev_pa"},
        "/projects/PB/": None,
        "/departments/A1/": {"A1", "dev_a1"},
        "/departments/B/": None,
        "developer": {"developer", "dev_a1", "dev_pa"},
    },
    "manager_b": {
        "/projects/PA/": None,
        "/projects/PB/": {"PB", "dev_pb"},
        "/departments/A1/": None,
        "/departments/B/": {"B", "head_b"},
        "developer": {"dev_pb"},
    },
    "viewer": dict.fromkeys(["/projects/PA/", "/projects/PB/", "/departments/A1/", "/departments/B/", "developer"]),
}


@pytest.mark.parametrize("persona", HISTORY_SEEN)
def test_who_sees_which_change_history_on_the_staff_pages(company, persona):
    developer = company.assignments["dev_pa"].employee
    subjects = {
        **{code: str(department) for code, department in company.departments.items()},
        **{code: str(project) for code, project in company.projects.items()},
        **{name: str(assignment) for name, assignment in company.assignments.items()},
        "developer": str(developer),
    }
    for page, expected in HISTORY_SEEN[persona].items():
        path = f"/employees/{developer.employee_number}/" if page == "developer" else page
        response = company.client(persona).get(path)
        assert response.status_code == 200, path
        history = response.context["history"]
        if expected is None:
            assert history is None, path
            assert "Change history" not in response.content.decode()
            continue
        shown = {change.subject for change in history["changes"]}
        assert shown == {subjects[name] for name in expected}, path
        assert "Change history" in response.content.decode()
        # A manager is told the list is cut to their scope, HR is not.
        cut = "Only the changes within your departments and projects are shown." in response.content.decode()
        assert cut == (persona != "hr"), path


# Every admin page kind by every persona: add and change pages of each model, on an object inside a manager's
# scope where there is one (A's), and HR's import pages. What each may open:
ADMIN_PAGES = {
    "department add": ("admin:org_department_add", None),
    "department change": ("admin:org_department_change", ("departments", "A")),
    "employee add": ("admin:org_employee_add", None),
    "employee change": ("admin:org_employee_change", "employee"),
    "employee history": ("admin:org_employee_history", "employee"),
    "project add": ("admin:org_project_add", None),
    "project change": ("admin:org_project_change", ("projects", "PA")),
    "role add": ("admin:org_role_add", None),
    "role change": ("admin:org_role_change", "role"),
    "assignment add": ("admin:org_assignment_add", None),
    "assignment change": ("admin:org_assignment_change", ("assignments", "dev_pa")),
    "assignment import": ("admin:org_assignment_import", None),
    "employee import": ("admin:org_employee_import", None),
}
# 200: opens (a manager reads departments, projects, employees and roles: their pages are read-only for them);
# 403: inside the admin but not allowed; 404: outside the scope; 302: sent to the admin's login page.
EXPECTED_ADMIN = {
    "hr": dict.fromkeys(ADMIN_PAGES, 200),
    "manager_a": {
        **dict.fromkeys(ADMIN_PAGES, 200),
        **dict.fromkeys(["department add", "employee add", "project add", "role add"], 403),
        **dict.fromkeys(["assignment import", "employee import"], 403),
    },
    "manager_b": {
        **dict.fromkeys(ADMIN_PAGES, 200),
        **dict.fromkeys(["department add", "employee add", "project add", "role add"], 403),
        **dict.fromkeys(["assignment import", "employee import"], 403),
        **dict.fromkeys(["department change", "project change", "assignment change", "employee history"], 404),
    },
    "viewer": dict.fromkeys(ADMIN_PAGES, 302),
    "leaver": dict.fromkeys(ADMIN_PAGES, 302),
    "anonymous": dict.fromkeys(ADMIN_PAGES, 302),
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_admin_page_kind_by_every_persona(company, persona):
    employee = company.assignments["dev_pa"].employee
    role = company.assignments["dev_pa"].role
    client = company.client(persona)
    for page, (url_name, target) in ADMIN_PAGES.items():
        if target is None:
            args = []
        elif target == "employee":
            args = [employee.pk]
        elif target == "role":
            args = [role.pk]
        else:
            args = [getattr(company, target[0])[target[1]].pk]
        response = client.get(reverse(url_name, args=args))
        assert response.status_code == EXPECTED_ADMIN[persona][page], (persona, page)


# --- Project managers: Accountable on a project today; they manage that project's team and nothing else ----------


@pytest.fixture
def pm(company: Company) -> Client:
    pat = EmployeeFactory(department=company.departments["B"])
    role = RoleFactory(
        name="Project Manager", applies_to=AppliesTo.PROJECT, default_level=Level.ACCOUNTABLE, single_holder=True
    )
    company.assignments["pm_pa"] = services.assignment_create(
        employee=pat, role=role, level=Level.ACCOUNTABLE, target=company.projects["PA"], start_date=LAST_YEAR
    )
    client = Client()
    client.force_login(_user("pat", employee=pat))
    return client


def test_a_project_manager_enters_the_admin_and_sees_their_projects_team_only(company, pm):
    listed = pm.get(reverse("admin:org_assignment_changelist")).context["cl"].result_list
    assert {a.pk for a in listed} == {company.assignments[name].pk for name in ("dev_pa", "pm_pa")}
    assert [p.code for p in pm.get(reverse("admin:org_project_changelist")).context["cl"].result_list] == ["PA"]
    assert list(pm.get(reverse("admin:org_department_changelist")).context["cl"].result_list) == []
    answer = pm.get(
        reverse("admin:autocomplete"),
        {"term": "", "app_label": "org", "model_name": "assignment", "field_name": "project"},
    ).json()
    assert [int(item["id"]) for item in answer["results"]] == [company.projects["PA"].pk]


@pytest.mark.parametrize(("assignment", "status"), [("dev_pa", 200), ("dev_pb", 404), ("dev_a1", 404)])
def test_a_project_manager_opens_only_their_projects_assignments(company, pm, assignment, status):
    url = reverse("admin:org_assignment_change", args=[company.assignments[assignment].pk])
    assert pm.get(url).status_code == status


def test_a_project_manager_adds_and_ends_on_their_project_only(company, pm):
    newcomer = EmployeeFactory()
    today = timezone.localdate().isoformat()
    inside = assignment_form(company.assignments["dev_pa"], employee=newcomer.pk, start_date=today)
    assert pm.post(reverse("admin:org_assignment_add"), inside).status_code == 302
    assert Assignment.objects.filter(employee=newcomer, project=company.projects["PA"]).exists()

    elsewhere = ({"project": company.projects["PB"].pk}, {"project": "", "department": company.departments["A1"].pk})
    for outside in elsewhere:
        response = pm.post(reverse("admin:org_assignment_add"), {**inside, **outside})
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert Assignment.objects.filter(employee=newcomer).count() == 1

    dev_pa = company.assignments["dev_pa"]
    ended = assignment_form(dev_pa, end_date=today)
    response = pm.post(reverse("admin:org_assignment_change", args=[dev_pa.pk]), ended)
    assert response.status_code == 302
    dev_pa.refresh_from_db()
    assert dev_pa.end_date == timezone.localdate()


def test_a_project_manager_reads_their_projects_history_on_the_staff_pages(company, pm):
    history = pm.get("/projects/PA/").context["history"]
    assert history is not None
    assert str(company.assignments["dev_pa"]) in {change.subject for change in history["changes"]}
    assert pm.get("/projects/PB/").context["history"] is None
    assert pm.get("/departments/A1/").context["history"] is None


def test_a_project_managers_access_ends_with_the_assignment(company, pm):
    assert enters(pm.get(reverse("admin:org_assignment_changelist")))
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    services.assignments_end(assignments=[company.assignments["pm_pa"]], end_date=yesterday)
    assert pm.get(reverse("admin:org_assignment_changelist")).status_code == 302


def test_a_responsible_on_a_project_manages_nothing(company):
    client = Client()
    client.force_login(_user("dev", employee=company.assignments["dev_pa"].employee))
    assert client.get(reverse("admin:org_assignment_changelist")).status_code == 302


def test_a_head_who_also_manages_a_project_elsewhere_has_both(company):
    pat_role = RoleFactory(name="Project Manager", applies_to=AppliesTo.PROJECT, default_level=Level.ACCOUNTABLE)
    head_a = company.assignments["head_a"]
    services.assignment_create(
        employee=head_a.employee,
        role=pat_role,
        level=Level.ACCOUNTABLE,
        target=company.projects["PB"],
        start_date=LAST_YEAR,
    )
    client = company.client("manager_a")
    listed = client.get(reverse("admin:org_project_changelist")).context["cl"].result_list
    assert {p.code for p in listed} == {"PA", "PB"}
    listed = client.get(reverse("admin:org_department_changelist")).context["cl"].result_list
    assert {d.code for d in listed} == {"A", "A1"}


# --- The admin's history pages ------------------------------------------------------------------------------------


def history_form_url(obj) -> str:
    version = obj.history.order_by("-history_id").first()
    return reverse(f"admin:org_{obj._meta.model_name}_simple_history", args=[obj.pk, version.history_id])


@pytest.mark.parametrize("persona", ["hr", "manager_a"])
@pytest.mark.parametrize("model", ["employee", "role", "department", "assignment"])
def test_a_history_version_page_never_saves_a_post(company, persona, model):
    """Reverting is disabled: simple-history's version page would save a POST checking only the view permission."""
    dev_pa = company.assignments["dev_pa"]
    obj = {
        "employee": dev_pa.employee,
        "role": dev_pa.role,
        "department": company.departments["A"],
        "assignment": dev_pa,
    }[model]
    client = company.client(persona)
    url = history_form_url(obj)
    assert client.get(url).status_code == 200
    before = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    data = {
        "employee": lambda: employee_post(obj, job_title="HACKED"),
        "role": lambda: {"name": "HACKED", "applies_to": obj.applies_to, "default_level": obj.default_level},
        "department": lambda: {"code": "HACKED", "name": "HACKED", "parent": "", "active": "on"},
        "assignment": lambda: assignment_form(obj, note="HACKED", level="C"),
    }[model]()
    response = client.post(url, data)
    assert response.status_code == 403
    obj.refresh_from_db()
    assert {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields} == before
    assert obj.history.count() == 1


@pytest.mark.parametrize(("persona", "status"), [("hr", 200), ("manager_a", 200), ("manager_b", 404)])
def test_an_employees_admin_history_follows_their_home_department(company, persona, status):
    """As on the staff pages: a manager reads an employee's own changes when the home department is in the scope
    (the developer's is A1, under A). The employee pages themselves stay open to every manager (autocompletes)."""
    developer = company.assignments["dev_pa"].employee
    client = company.client(persona)
    assert client.get(reverse("admin:org_employee_history", args=[developer.pk])).status_code == status
    response = client.get(history_form_url(developer))
    assert response.status_code == status
    if status == 404:
        assert developer.last_name not in response.content.decode()


@pytest.mark.parametrize("persona", ["hr", "manager_a"])
@pytest.mark.parametrize("version", ["abc", "1.5", "-", "9" * 30, "999999"])
def test_an_odd_history_version_answers_404(company, persona, version):
    dev_pa = company.assignments["dev_pa"]
    response = company.client(persona).get(f"/admin/org/assignment/{dev_pa.pk}/history/{version}/")
    assert response.status_code == 404

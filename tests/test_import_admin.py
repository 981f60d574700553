"""The import page in the admin: upload, dry-run preview with every problem, confirm; the same engine as the
command, for users who may add the rows; never a server error."""

from __future__ import annotations

import datetime
import os
import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from org.access import HR_GROUP
from org.imports import pending
from org.imports.pending import PART_BYTES
from org.models import Assignment, Department, Employee, PendingImport, Role
from tests.factories import UserFactory
from tests.imports import EXAMPLES, load_examples, snapshot

pytestmark = pytest.mark.django_db
URL = reverse("admin:org_employee_import")
EMPLOYEES = (EXAMPLES / "employees.csv").read_bytes()


def upload(client, content: bytes, name: str = "people.csv", url: str = URL, **fields):
    return client.post(url, {"kind": "employees", "file": SimpleUploadedFile(name, content), **fields})


def token_of(response) -> str:
    return re.search(r'name="token" value="([^"]+)"', response.content.decode()).group(1)


@pytest.fixture
def departments():
    for code in ("ENG", "PLT", "DAT", "FIN"):
        Department.objects.create(code=code, name=code)


def test_the_changelist_links_to_the_import_page(hr_client):
    response = hr_client.get(reverse("admin:org_employee_changelist"))

    assert URL in response.content.decode()


def test_upload_shows_the_dry_run_and_writes_nothing_until_confirmed(hr_client, hr_admin, departments):
    before = snapshot()

    preview = upload(hr_client, EMPLOYEES)

    assert preview.status_code == 200
    page = preview.content.decode()
    assert "people.csv: 5 rows · ProjMan columns" in page
    assert "<td>Employees</td><td>5</td><td>0</td><td>0</td>" in page
    assert 'name="confirm"' in page
    assert snapshot() == before
    waiting = PendingImport.objects.get(pk=signing.loads(token_of(preview), salt="org.import")["pending"])
    assert (waiting.user, waiting.kind, waiting.filename, waiting.size) == (
        hr_admin,
        "employees",
        "people.csv",
        len(EMPLOYEES),
    )
    assert b"".join(waiting.parts.order_by("number").values_list("data", flat=True)) == EMPLOYEES

    done = hr_client.post(URL, {"token": token_of(preview), "confirm": "1"})

    assert done.status_code == 302
    assert done["Location"] == reverse("admin:org_employee_changelist")
    assert Employee.objects.count() == 5
    created = Employee.history.filter(history_type="+")
    assert set(created.values_list("history_user", flat=True)) == {hr_admin.pk}
    assert not PendingImport.objects.exists()


def test_problems_are_listed_with_row_and_column_and_there_is_nothing_to_confirm(hr_client, departments):
    content = EMPLOYEES + b"E009,Zed,Zulu,not-an-email,,NOPE,,,\n"

    response = upload(hr_client, content)

    page = response.content.decode()
    assert response.status_code == 200
    assert "2 problems found; nothing was written." in page
    assert "<td>7</td><td>D (work_email)</td><td>&#x27;not-an-email&#x27; is not an email address" in page
    assert "<td>7</td><td>F (department)</td><td>Unknown department code &#x27;NOPE&#x27;" in page
    assert 'name="confirm"' not in page
    assert not Employee.objects.exists()


def test_in_spanish_the_problems_and_the_summary_are_spanish(hr_client, departments):
    content = EMPLOYEES + b"E009,Zed,Zulu,not-an-email,,NOPE,,,\n"

    hr_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "es"
    bad = upload(hr_client, content).content.decode()
    preview = upload(hr_client, EMPLOYEES)
    done = hr_client.post(URL, {"token": token_of(preview), "confirm": "1"}, follow=True)

    assert "<td>7</td><td>D (work_email)</td><td>&#x27;not-an-email&#x27; no es una dirección de correo" in bad
    assert "Código de departamento desconocido &#x27;NOPE&#x27;: no existe en la base de datos." in bad
    assert "Importado people.csv: empleados: 5 creados, 0 cambiados, 0 sin cambios" in done.content.decode()


def test_the_orangehrm_template_can_be_chosen_and_its_note_shown(hr_client):
    response = upload(hr_client, (EXAMPLES / "orangehrm.csv").read_bytes(), format="orangehrm")

    page = response.content.decode()
    assert "· OrangeHRM 5 employee template" in page
    assert "Ignored columns ProjMan has no field for: middle_name" in page


def test_job_history_is_imported_from_the_assignments_page(hr_client, tmp_path):
    load_examples()
    url = reverse("admin:org_assignment_import")
    preview = hr_client.post(
        url, {"kind": "history", "file": SimpleUploadedFile("h.csv", (EXAMPLES / "history.csv").read_bytes())}
    )
    assert "· Job history export" in preview.content.decode()

    hr_client.post(url, {"token": token_of(preview), "confirm": "1"})

    assert Assignment.objects.filter(role__name="Team Member").count() == 3


def test_the_role_of_job_history_can_be_chosen_in_the_admin_as_on_the_command_line(hr_client):
    load_examples()
    url = reverse("admin:org_assignment_import")
    history = SimpleUploadedFile("h.csv", (EXAMPLES / "history.csv").read_bytes())
    preview = hr_client.post(url, {"kind": "history", "file": history, "member_role": "Staff"})
    assert "The role &#x27;Staff&#x27; is created for home-department assignments." in preview.content.decode()

    hr_client.post(url, {"token": token_of(preview), "confirm": "1"})

    assert Assignment.objects.filter(role__name="Staff").count() == 3
    assert not Assignment.objects.filter(role__name="Team Member").exists()
    assert 'name="member_role"' not in hr_client.get(URL).content.decode()  # employees have no job history


def test_a_file_that_became_invalid_between_preview_and_confirm_is_refused_whole(hr_client, departments):
    preview = upload(hr_client, EMPLOYEES)
    Employee.objects.create(
        employee_number="X1", first_name="A", last_name="B", work_email="ana.garcia@projman.example"
    )
    before = snapshot()

    response = hr_client.post(URL, {"token": token_of(preview), "confirm": "1"})

    assert response.status_code == 200
    assert "ana.garcia@projman.example already belongs to employee X1" in response.content.decode()
    assert snapshot() == before


PROMOTED = EMPLOYEES.replace(b"CTO", b"Chief Technology Officer")  # one change to the example company: E001's title


def test_a_confirmation_writes_nothing_the_preview_did_not_show_and_shows_what_the_file_would_do_now(hr_client):
    """Between preview and confirmation, Carla is marked as left in the admin: the file, which has no leave date
    for her, would now clear it. The confirmation writes nothing and shows that; confirmed again, it is written."""
    load_examples()
    preview = upload(hr_client, PROMOTED)
    assert "<td>Employees</td><td>0</td><td>1</td><td>4</td>" in preview.content.decode()
    Employee.objects.filter(employee_number="E003").update(leave_date=datetime.date(2025, 6, 30))
    before = snapshot()

    response = hr_client.post(URL, {"token": token_of(preview), "confirm": "1"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "The data changed since the preview of people.csv, so the file would now do what is shown here" in page
    assert "<td>Employees</td><td>0</td><td>2</td><td>3</td>" in page
    assert snapshot() == before
    assert hr_client.post(URL, {"token": token_of(preview), "confirm": "1"}).status_code == 200  # used up

    done = hr_client.post(URL, {"token": token_of(response), "confirm": "1"})

    assert done.status_code == 302
    assert Employee.objects.get(employee_number="E001").job_title == "Chief Technology Officer"
    assert Employee.objects.get(employee_number="E003").leave_date is None
    assert not PendingImport.objects.exists()


def test_an_edit_meanwhile_of_what_the_file_changes_too_is_not_overwritten_unseen(hr_client):
    load_examples()
    preview = upload(hr_client, PROMOTED)
    Employee.objects.filter(employee_number="E001").update(job_title="Chief Tech Officer (edited meanwhile)")
    before = snapshot()

    response = hr_client.post(URL, {"token": token_of(preview), "confirm": "1"})

    assert "The data changed since the preview of people.csv" in response.content.decode()
    assert snapshot() == before


def test_a_change_meanwhile_that_leaves_the_files_writes_as_they_were_does_not_hold_up_the_confirmation(hr_client):
    load_examples()
    preview = upload(hr_client, PROMOTED)
    Department.objects.create(code="NEW", name="New")
    Employee.objects.filter(employee_number="E003").update(user=UserFactory())  # no column of the file

    done = hr_client.post(URL, {"token": token_of(preview), "confirm": "1"})

    assert done.status_code == 302
    assert Employee.objects.get(employee_number="E001").job_title == "Chief Technology Officer"


def test_a_confirmation_that_would_now_change_nothing_writes_nothing_and_offers_nothing_to_confirm(hr_client):
    load_examples()
    preview = upload(hr_client, PROMOTED)
    Employee.objects.filter(employee_number="E001").update(job_title="Chief Technology Officer")
    before = snapshot()

    response = hr_client.post(URL, {"token": token_of(preview), "confirm": "1"})

    page = response.content.decode()
    assert "Nothing to change: the database already holds what this file says." in page
    assert 'name="confirm"' not in page and "Imported people.csv" not in page
    assert snapshot() == before
    assert not PendingImport.objects.exists()


def test_a_file_waits_in_the_database_in_parts_and_any_app_server_can_confirm_it(hr_client):
    """Nothing of the preview stays on the app server that showed it: the confirmation may reach another."""
    rows = "".join(f"Role {i},{'d' * 9_000}\n" for i in range(300))
    content = ("name,description\n" + rows).encode()
    preview = upload(hr_client, content, "roles.csv", url=reverse("admin:org_role_import"), kind="roles")

    assert "<td>Roles</td><td>300</td>" in preview.content.decode()
    waiting = PendingImport.objects.get()
    assert waiting.parts.count() == len(content) // PART_BYTES + 1 == 3

    done = hr_client.post(reverse("admin:org_role_import"), {"token": token_of(preview), "confirm": "1"})

    assert done.status_code == 302
    assert Role.objects.count() == 300
    assert Role.objects.get(name="Role 299").description == "d" * 9_000
    assert not PendingImport.objects.exists()


def test_a_waiting_file_larger_than_one_database_packet_is_kept_whole(hr_admin):
    """Each part goes in a statement of its own, so a file over MariaDB's max_allowed_packet (16 MiB by default)
    waits whole."""
    data = os.urandom(17 * 2**20)
    waiting = pending.keep(hr_admin, data, kind="roles", format="", encoding="", filename="big.csv")

    with transaction.atomic():
        claimed = pending.claim(waiting, hr_admin)

    assert claimed is not None and claimed[1] == data


def test_a_second_confirmation_imports_nothing_and_says_why(hr_client, departments):
    preview = upload(hr_client, EMPLOYEES)
    assert hr_client.post(URL, {"token": token_of(preview), "confirm": "1"}).status_code == 302
    before = snapshot()

    again = hr_client.post(URL, {"token": token_of(preview), "confirm": "1"})

    assert "That file is not waiting to be confirmed: it has been imported or refused already" in again.content.decode()
    assert snapshot() == before


def test_a_preview_left_waiting_past_its_hour_cannot_be_confirmed_and_is_deleted(hr_client, departments):
    import datetime

    preview = upload(hr_client, EMPLOYEES)
    PendingImport.objects.update(created=F("created") - datetime.timedelta(hours=1, seconds=1))

    response = hr_client.post(URL, {"token": token_of(preview), "confirm": "1"})

    assert "its preview has expired" in response.content.decode()
    assert not Employee.objects.exists()
    upload(hr_client, EMPLOYEES)  # the next preview clears what waited too long
    assert PendingImport.objects.count() == 1


def test_a_file_that_changes_nothing_offers_nothing_to_confirm(hr_client):
    load_examples()

    preview = upload(hr_client, EMPLOYEES)

    page = preview.content.decode()
    assert "<td>Employees</td><td>0</td><td>0</td><td>5</td>" in page
    assert "Nothing to change: the database already holds what this file says." in page
    assert 'name="confirm"' not in page
    assert not PendingImport.objects.exists()


@pytest.mark.parametrize("token", ["", "garbage", "eyJmaWxlIjoiLi4vLi4vZXRjL3Bhc3N3ZCJ9:forged:sig"])
def test_a_missing_or_forged_confirmation_is_an_error_message_not_a_server_error(hr_client, token):
    response = hr_client.post(URL, {"token": token, "confirm": "1"})

    assert response.status_code == 200
    assert "its preview has expired or is not yours" in response.content.decode()


def test_someone_elses_preview_cannot_be_confirmed(hr_client, client, departments):
    preview = upload(hr_client, EMPLOYEES)
    other = UserFactory(username="other-hr", is_staff=True, is_superuser=True)
    client.force_login(other)

    response = client.post(URL, {"token": token_of(preview), "confirm": "1"})

    assert "its preview has expired or is not yours" in response.content.decode()
    assert not Employee.objects.exists()


@pytest.mark.parametrize(
    "content",
    [b"\x00\x01\x02\xff", b"PK\x03\x04broken", "é".encode("latin-1") * 10, b"a,b\n" + b"x" * 200_000],
)
def test_garbage_uploads_get_a_page_with_problems(hr_client, content):
    response = upload(hr_client, content, name="garbage.xlsx" if content.startswith(b"PK") else "garbage.csv")

    assert response.status_code == 200
    assert "nothing was written" in response.content.decode()


def test_an_empty_upload_is_a_form_error(hr_client):
    response = upload(hr_client, b"")

    assert response.status_code == 200
    assert "The submitted file is empty." in response.content.decode()


def test_staff_without_add_permission_are_refused_and_outsiders_sent_to_log_in(client, outsider):
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_employee"))
    client.force_login(clerk)

    assert client.get(URL).status_code == 403
    assert upload(client, EMPLOYEES).status_code == 403
    assert URL not in client.get(reverse("admin:org_employee_changelist")).content.decode()

    client.force_login(outsider)
    assert client.get(URL).status_code == 302


def test_only_hr_administrators_may_import(client, departments):
    """An import writes past any one department: the add permission alone (a department manager has it for
    assignments) is not enough; the HR administrators group is."""
    clerk = UserFactory(username="hr-clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="add_employee"))
    client.force_login(clerk)
    assert client.get(URL).status_code == 403

    clerk.groups.add(Group.objects.get(name=HR_GROUP))
    assert client.get(URL).status_code == 200
    assert client.get(reverse("admin:org_department_import")).status_code == 200


def test_the_format_must_fit_the_kind(hr_client):
    response = hr_client.post(
        reverse("admin:org_assignment_import"),
        {"kind": "assignments", "format": "jobhistory", "file": SimpleUploadedFile("a.csv", b"x\n1\n")},
    )

    assert "This format has no rows of that kind." in response.content.decode()

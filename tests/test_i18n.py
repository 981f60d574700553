"""The Spanish catalogue: complete, compiled, used by the code and by the staff pages.

The .po is read with a small parser of our own (no polib, no gettext tools), so
the completeness checks run on every machine; ``msgfmt --check`` runs in
addition where gettext is installed.
"""

from __future__ import annotations

import ast
import datetime
import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation
from django.utils.translation import ngettext

from org import services
from org.models import Assignment, Department, Level, ProjectStatus
from tests.factories import AssignmentFactory
from tests.topology import missing_tool

D = datetime.date
CATALOGUE = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES"
PO = CATALOGUE / "django.po"
MO = CATALOGUE / "django.mo"
SETLANG = "/i18n/setlang/"
# %(name)s, %(count)d, %s, %d and the escaped %% of python-format; {name} of brace formats.
PLACEHOLDER = re.compile(r"%\(\w+\)[sdfr]|%[sdfr%]|\{\w*\}")


# --- The catalogue file --------------------------------------------------------------------


def parse_po(path: Path) -> list[dict]:
    """The entries of a .po file: ``flags`` (``#,`` comments), ``obsolete`` and ``fields``
    (``msgctxt``, ``msgid``, ``msgid_plural``, ``msgstr`` or ``msgstr[N]`` to its unquoted text)."""
    entries: list[dict] = []
    entry: dict | None = None
    key = ""
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if not line:
            if entry is not None:
                entries.append(entry)
            entry = None
            continue
        if entry is None:
            entry = {"flags": set(), "obsolete": False, "fields": {}}
        if line.startswith("#~"):
            entry["obsolete"] = True
        elif line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry["fields"][key] += ast.literal_eval(line)
        else:
            key, _sep, value = line.partition(" ")
            entry["fields"][key] = ast.literal_eval(value)
    return entries


def msgstrs(entry: dict) -> list[str]:
    fields = entry["fields"]
    if "msgid_plural" in fields:
        return [fields[k] for k in sorted(k for k in fields if k.startswith("msgstr["))]
    return [fields["msgstr"]]


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


@pytest.fixture(scope="module")
def po_entries() -> list[dict]:
    assert PO.is_file(), f"{PO} is missing: run makemessages -l es (see the module docstring)"
    return parse_po(PO)


@pytest.fixture(scope="module")
def messages(po_entries) -> list[dict]:
    """Every entry but the header."""
    return [e for e in po_entries if e["fields"].get("msgid") != ""]


def nplurals(po_entries) -> int:
    header = next(e for e in po_entries if e["fields"].get("msgid") == "")["fields"]["msgstr"]
    match = re.search(r"^Plural-Forms: nplurals=(\d+);", header, re.MULTILINE)
    assert match, "the header states no Plural-Forms"
    return int(match.group(1))


def test_header_is_spanish_and_not_fuzzy(po_entries):
    header = next(e for e in po_entries if e["fields"].get("msgid") == "")
    assert "fuzzy" not in header["flags"]
    assert "Language: es\n" in header["fields"]["msgstr"]
    assert "charset=UTF-8" in header["fields"]["msgstr"]
    assert nplurals(po_entries) >= 2


def test_every_entry_translated_and_not_fuzzy(po_entries, messages):
    assert len(messages) > 150, "the catalogue looks truncated"
    assert not [e["fields"].get("msgid") for e in po_entries if e["obsolete"]], "obsolete (#~) entries left over"
    fuzzy = [e["fields"]["msgid"] for e in messages if "fuzzy" in e["flags"]]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    untranslated = [e["fields"]["msgid"] for e in messages if not all(s.strip() for s in msgstrs(e))]
    assert not untranslated, f"untranslated entries: {untranslated}"
    forms = nplurals(po_entries)
    short = [e["fields"]["msgid"] for e in messages if "msgid_plural" in e["fields"] and len(msgstrs(e)) != forms]
    assert not short, f"plural entries without {forms} forms: {short}"


def test_placeholders_and_markup_kept(messages):
    wrong = []
    for entry in messages:
        fields = entry["fields"]
        sources = [fields["msgid"]] + [fields.get("msgid_plural", fields["msgid"])] * (len(msgstrs(entry)) - 1)
        for source, translated in zip(sources, msgstrs(entry), strict=True):
            if placeholders(source) != placeholders(translated):
                wrong.append((source, translated))
            if re.findall(r"</?\w+", source) != re.findall(r"</?\w+", translated):
                wrong.append((source, translated))
    assert not wrong, f"placeholders or HTML changed: {wrong}"


def test_compiled_catalogue_is_the_po(messages):
    """The .mo in the repository is compiled from this .po (a fresh machine may lack msgfmt)."""
    assert MO.is_file(), f"{MO} is missing: run compilemessages"
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog
    expected = {}
    for entry in messages:
        fields = entry["fields"]
        key = f"{fields['msgctxt']}\x04{fields['msgid']}" if "msgctxt" in fields else fields["msgid"]
        if "msgid_plural" in fields:
            expected.update({(key, n): text for n, text in enumerate(msgstrs(entry))})
        else:
            expected[key] = fields["msgstr"]
    compiled = {k: v for k, v in compiled.items() if k != ""}
    stale = {k for k in expected.keys() | compiled.keys() if expected.get(k) != compiled.get(k)}
    assert not stale, f"django.mo is out of date; run compilemessages. Differing: {sorted(map(str, stale))[:10]}"


def test_msgfmt_check():
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        missing_tool("msgfmt is not installed (Debian: gettext); the .po checks above still ran")
    result = subprocess.run(
        [msgfmt, "--check", "--statistics", "-o", "/dev/null", str(PO)],
        capture_output=True,
        text=True,
        check=False,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr
    assert "fuzzy" not in result.stderr


# --- Our strings in Spanish ---------------------------------------------------------------


@pytest.fixture(autouse=True)
def _restore_language():
    """Requests activate their language for the rest of the thread; leave it as it was."""
    previous = translation.get_language()
    yield
    translation.activate(previous)


def test_model_and_choice_labels():
    with translation.override("es"):
        assert str(Department._meta.verbose_name) == "departamento"
        assert str(Assignment._meta.verbose_name_plural) == "asignaciones"
        assert str(Assignment._meta.get_field("allocation").verbose_name) == "% de dedicación"
        assert [str(label) for label in Level.labels] == ["Responsable", "Aprobador", "Consultado", "Informado"]
        assert str(ProjectStatus.ON_HOLD.label) == "En pausa"
    with translation.override("en"):
        assert str(Level.ACCOUNTABLE.label) == "Accountable"


def test_plural_forms():
    def ended(count: int) -> str:
        return ngettext("%(count)d assignment ended today.", "%(count)d assignments ended today.", count) % {
            "count": count
        }

    with translation.override("es"):
        assert ended(1) == "1 asignación finalizada hoy."
        assert ended(0) == "0 asignaciones finalizadas hoy."
        assert ended(3) == "3 asignaciones finalizadas hoy."
        assert ended(1_000_000) == "1000000 asignaciones finalizadas hoy."


def test_service_rule_messages(ana, bob, project, department, manager_role, sponsor_role, day):
    """A rule message with its placeholders filled, including the nested period."""
    held = AssignmentFactory(
        employee=ana, role=manager_role, project=project, level=Level.ACCOUNTABLE, start_date=D(2024, 1, 1)
    )
    candidate = Assignment(employee=bob, role=sponsor_role, project=project, level=Level.ACCOUNTABLE, start_date=day)
    with translation.override("es"):
        assert services.assignment_conflicts(candidate, [held])["level"] == [
            "Solo puede haber un Aprobador por ámbito: Ana García es Aprobador de ERP — ERP migration "
            "desde el 2024-01-01, sin fecha de fin."
        ]
    with translation.override("en"):
        assert services.assignment_conflicts(candidate, [held])["level"] == [
            "Only one Accountable per target: Ana García is Accountable for ERP — ERP migration "
            "from 2024-01-01, open-ended."
        ]

    wrong_target = Assignment(employee=bob, role=manager_role, department=department, start_date=day, level="A")
    with translation.override("es"), pytest.raises(ValidationError) as caught:
        services.assignment_check_fields(wrong_target)
    assert caught.value.message_dict["role"] == ["El rol Project Manager solo se aplica a proyectos."]


# --- The staff pages ----------------------------------------------------------------------


def switch(client, language: str):
    response = client.post(SETLANG, {"language": language}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain, "set_language did not redirect"
    return response


@pytest.fixture
def erp_team(ana, project, manager_role):
    """Ana has been ERP's Accountable project manager since 15 January 2024."""
    return services.assignment_create(
        employee=ana, role=manager_role, target=project, start_date=D(2024, 1, 15), allocation=50
    )


def without_tokens(page: str) -> str:
    """The page without its CSRF tokens: random letters that may spell an English word ("…0NAny1C…")."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken"', page)


def test_pages_switch_to_spanish(viewer_client, erp_team):
    before = viewer_client.get("/").content.decode()
    assert '<html lang="en"' in before
    assert "Who is responsible" in before

    landing = switch(viewer_client, "es").content.decode()
    assert '<html lang="es"' in landing

    dashboard = without_tokens(viewer_client.get("/").content.decode())
    assert '<html lang="es"' in dashboard
    for spanish in ("Panel", "Quién es responsable", "Carencias que requieren intervención", "Cerrar sesión"):
        assert spanish in dashboard
    for english in ("Dashboard", "Who is responsible", "Gaps that need someone", "Log out", "Employees"):
        assert english not in dashboard

    responsible = without_tokens(viewer_client.get(reverse("org:responsible")).content.decode())
    assert '<html lang="es"' in responsible
    for spanish in ("Nivel RACI", "Aprobador", "Asignaciones vigentes a fecha de", "Cualquiera", "Ámbito", "Filtrar"):
        assert spanish in responsible
    for english in ("RACI level", "Accountable", "Assignments in force", "Any", "Filter", "Allocation"):
        assert english not in responsible

    switch(viewer_client, "en")
    again = viewer_client.get(reverse("org:responsible")).content.decode()
    assert '<html lang="en"' in again
    assert "Assignments in force on" in again


def test_dates_follow_the_language(viewer_client, erp_team):
    url = reverse("org:responsible") + "?as_of=2025-03-01"
    english = viewer_client.get(url).content.decode()
    assert "Assignments in force on March 1, 2025." in english
    assert "01/15/2024" in english  # the table's short date, month first

    switch(viewer_client, "es")
    spanish = viewer_client.get(url).content.decode()
    assert "Asignaciones vigentes a fecha de 1 de marzo de 2025." in spanish
    assert "15/01/2024" in spanish  # day first
    assert "March" not in spanish
    assert "01/15/2024" not in spanish


def test_the_admin_history_page_speaks_spanish_and_shows_an_empty_value_as_empty(hr_client, ana, bob):
    """simple-history ships no Spanish: its page was half English, and a manager that was empty before read as
    "Deleted employee (pk=None)"."""
    ana.manager = bob
    ana.save()
    switch(hr_client, "es")

    page = without_tokens(hr_client.get(reverse("admin:org_employee_history", args=[ana.pk])).content.decode())

    for spanish in ("Versión", "Fecha/hora", "Modificado por", "Motivo del cambio", "Alta", "Modificación"):
        assert spanish in page
    for english in (
        "Object",
        "Comment",
        "Changed by",
        "Change reason",
        "Created",
        "Deleted",
        "pk=None",
        "None",
        "View",
    ):
        assert english not in page
    assert "<title>Historial de cambios: Ana García |" in page
    assert f"<strong>Superior directo:</strong> —&nbsp;&rarr;&nbsp;&nbsp;{bob}</li>" in page

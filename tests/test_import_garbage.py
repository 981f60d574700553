"""Hypothesis throws garbage at the importer: it never raises, and whatever it refuses leaves the database as it
was. Each example runs in a transaction rolled back afterwards, so examples do not see each other's rows."""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from org.imports.engine import COLUMNS, KINDS, run_import
from tests.imports import load_examples, snapshot

pytestmark = pytest.mark.django_db
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CELL = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "E001", "ENG", "ERP", "2024-01-01", "31/12/2024", "=1+1", "A", "yes", "150", "x@y.example"]),
)


@st.composite
def csv_like(draw) -> tuple[str, bytes]:
    """A kind, and a file whose header has some of that kind's columns (or none) and rows of random cells."""
    kind = draw(st.sampled_from(KINDS))
    names = [c.field for c in COLUMNS[(kind, "projman")]]
    header = draw(st.lists(st.sampled_from([*names, "junk", ""]), max_size=len(names) + 2))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    rows = draw(st.lists(st.lists(CELL, max_size=len(header) + 2), max_size=6))
    text = "\n".join(delimiter.join(cells) for cells in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "cp1252"]))
    return kind, text.encode(encoding, errors="replace")


def check(kind: str, data: bytes, before: dict, **options) -> None:
    with transaction.atomic():
        report = run_import(kind, data, filename="garbage.csv", **options)
        if report.ok:
            assert report.written != options.get("dry_run", False)
        else:
            assert not report.written
            assert all(str(problem) for problem in report.problems)
            assert snapshot() == before
        transaction.set_rollback(True)


@pytest.fixture
def stored():
    load_examples()
    return snapshot()


@SETTINGS
@given(kind=st.sampled_from(KINDS), data=st.binary(max_size=300))
def test_random_bytes_never_raise_and_never_write(stored, kind, data):
    report = run_import(kind, data, filename="garbage.bin")

    assert not report.written
    assert snapshot() == stored


@SETTINGS
@given(kind=st.sampled_from(KINDS), data=st.binary(max_size=300).map(lambda b: b"PK\x03\x04" + b))
def test_random_workbooks_never_raise_and_never_write(stored, kind, data):
    report = run_import(kind, data, filename="garbage.xlsx")

    assert not report.ok
    assert snapshot() == stored


@SETTINGS
@given(sample=csv_like(), dry_run=st.booleans(), fmt=st.sampled_from([None, "projman", "orangehrm", "jobhistory"]))
def test_random_csv_never_raises_and_writes_only_what_it_accepts(stored, sample, dry_run, fmt):
    kind, data = sample

    check(kind, data, stored, dry_run=dry_run, format=fmt)

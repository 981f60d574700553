"""A column read in one go (``fields.parse_column``) gives exactly what reading its cells one by one gives, and
never lets through a cell the cell parser refuses: the short cut only ever says "all plainly fine" or "ask each cell".
"""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from org.imports import fields as f
from org.imports.engine import COLUMNS
from org.models import ProjectStatus

PARSERS = {
    f"{kind}/{fmt}.{column.field}": column.parse for (kind, fmt), columns in COLUMNS.items() for column in columns
}
SAMPLES = [
    "",
    " ",
    "E001",
    "HR/0042",
    "..",
    "  padded  ",
    "x" * 31,
    "x" * 201,
    "2024-01-31",
    "2024-02-30",
    "0000-01-01",
    "2024-1-31",
    "31/12/2024",
    "2024-01-31T00:00",
    "٢٠٢٤-٠١-٣١",
    "=1+1",
    "'=1+1",
    "+34 600",
    "-x",
    "@x",
    "ana@example.com",
    "Ana.Garcia@Example.COM",
    "ana@localhost",
    "ana@ex-.com",
    "ana@xn--bcher-kva.example",
    "añа@example.com",
    "a..b@example.com",
    "_a@example.co",
    "+ana@example.com",
    "ana+tag@example.com",
    "yes",
    "Accountable",
    "150",
    "50%",
    "a" * 250 + "@example.com",
]
CELL = st.one_of(st.text(max_size=12), st.sampled_from(SAMPLES))


def one_by_one(parse, cells):
    """The cell parser's values, or None when it refuses a cell."""
    try:
        return [parse(cell) for cell in cells]
    except ValueError:
        return None


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_each_sample_cell_reads_in_one_go_as_on_its_own(name):
    parse = PARSERS[name]
    for cell in SAMPLES:
        for cells in ([cell], [cell, cell.upper()], ["", cell]):
            whole = f.parse_column(parse, cells)
            assert whole is None or whole == one_by_one(parse, cells), (name, cells)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(sorted(PARSERS)), cells=st.lists(CELL, max_size=6))
def test_a_column_in_one_go_reads_as_its_cells_do(name, cells):
    parse = PARSERS[name]
    whole = f.parse_column(parse, cells)

    if whole is not None:
        assert whole == one_by_one(parse, cells)
        assert [type(v) for v in whole] == [type(v) for v in one_by_one(parse, cells)]


@pytest.mark.parametrize(
    "cells",
    [["E1", "E2"], ["ana@example.com", "BOB@EXAMPLE.ORG"], ["2024-01-31", ""], ["Engineer", ""]],
    ids=["text", "emails", "dates", "optional text"],
)
def test_plain_columns_take_the_short_cut(cells):
    parse = {"E1": f.text(30, required=True), "ana@example.com": f.email, "2024-01-31": f.date, "Engineer": f.text(200)}
    assert f.parse_column(parse[cells[0]], cells) == one_by_one(parse[cells[0]], cells)


@pytest.mark.parametrize(
    "parse, cells",
    [
        (f.text(30, required=True), ["E1", ""]),
        (f.text(30), ["E1", "=HYPERLINK()"]),
        (f.text(3), ["abcd"]),
        (f.email, ["ana@example.com", "not an address"]),
        (f.date, ["2024-02-30"]),
        (f.required_date, ["2024-01-01", ""]),
        (f.key(30), ["E1", "HR/0042"]),
        (f.key(30), ["E1", ".."]),
    ],
    ids=["required", "formula", "too long", "bad email", "no such day", "required date", "slash in a key", "dots"],
)
def test_a_column_with_a_bad_cell_is_read_cell_by_cell(parse, cells):
    assert f.parse_column(parse, cells) is None
    assert one_by_one(parse, cells) is None


@settings(max_examples=300, deadline=None)
@given(address=st.from_regex(f.PLAIN_EMAIL, fullmatch=True))
def test_every_plain_address_is_one_django_accepts(address):
    if f.plain_emails([address]) is None:  # too long for the field: read cell by cell, and refused
        assert one_by_one(f.email, [address]) is None
        return
    try:
        validate_email(address)
    except ValidationError:  # pragma: no cover - the failure this test is for
        pytest.fail(f"{address!r} is a plain address but Django refuses it")


@pytest.mark.parametrize("cell", ["on_hold", "On hold", "on-hold", " ON  HOLD ", "On_Hold", "on - hold"])
def test_a_choice_is_read_whatever_separates_its_words(cell):
    assert f.choice(ProjectStatus)(cell) == ProjectStatus.ON_HOLD


def test_a_choice_that_is_not_one_says_which_are():
    with pytest.raises(ValueError, match=r"'onhold' is not known; expected one of proposed, active, on_hold, closed\."):
        f.choice(ProjectStatus)("onhold")


DATES = {
    "2024-03-05": "2024-03-05",
    "2024-3-5": "2024-03-05",
    "2024/03/05": "2024-03-05",
    "2024.03.05": "2024-03-05",
    "05/03/2024": "2024-03-05",
    "5-3-2024": "2024-03-05",
    "05.03.2024": "2024-03-05",
    "2024-03-05 00:00:00": "2024-03-05",
    "2024-03-05T00:00": "2024-03-05",
    "05/03/2024 00:00": "2024-03-05",
    "2024-03-05 00:00:00.000": "2024-03-05",
    "2024-03-05 09:30": "holds a time of day as well as a date; expected a date alone",
    "05/03/2024 23:00:00": "holds a time of day as well as a date; expected a date alone",
    "2024-03-05 00:00:01": "holds a time of day as well as a date; expected a date alone",
    "2024-02-30": "is not a day of the calendar",
    "30.02.2024": "is not a day of the calendar",
    "2024-03/05": "is not a date; expected YYYY-MM-DD or DD/MM/YYYY.",
    "05/03/24": "is not a date; expected YYYY-MM-DD or DD/MM/YYYY.",
    "March 5, 2024": "is not a date; expected YYYY-MM-DD or DD/MM/YYYY.",
    "1900-01-01": "1900-01-01",
    "31/12/2199": "2199-12-31",
    "0224-03-05": "is outside the years ProjMan keeps, 1900 to 2199; check the year.",
    "31/12/1899": "is outside the years ProjMan keeps, 1900 to 2199; check the year.",
    "2200-01-01 00:00": "is outside the years ProjMan keeps, 1900 to 2199; check the year.",
}


NO_ENDS = {
    "9999-12-31": None,
    "31.12.9999": None,
    "31/12/4712": None,
    "9999-12-31 00:00:00": None,
    "9999-12-31 23:59:59": None,
    "9999-12-31T23:59:59.999": None,
    "31/12/2999": None,
    "2205-12-31": "is outside the years ProjMan keeps, 1900 to 2199; check the year.",
    "9999-12-31 00:00:00.5": "holds a time of day as well as a date; expected a date alone",
    "2199-12-31": "2199-12-31",
    "2025-06-30": "2025-06-30",
    "": None,
    "9999-12-30": "is outside the years ProjMan keeps, 1900 to 2199; check the year.",
    "2199-12-32": "is not a day of the calendar",
    "9999-12-31 12:00": "holds a time of day as well as a date; expected a date alone",
}


@pytest.mark.parametrize(("cell", "expected"), NO_ENDS.items(), ids=NO_ENDS.keys())
def test_an_end_date_reads_a_last_day_of_a_year_beyond_any_real_one_as_no_end(cell, expected):
    if expected is None or expected[0].isdigit():
        value = f.end_date(cell)
        assert (value and value.isoformat()) == expected
    else:
        with pytest.raises(ValueError, match=re.escape(f"{cell!r} {expected}")):
            f.end_date(cell)


def test_only_an_end_date_reads_a_no_end_mark():
    with pytest.raises(ValueError, match=re.escape("'9999-12-31' is outside the years ProjMan keeps")):
        f.date("9999-12-31")
    assert f.parse_column(f.end_date, ["2024-01-01", "9999-12-31"]) is None  # the cells are read one by one


@pytest.mark.parametrize(("cell", "expected"), DATES.items(), ids=DATES.keys())
def test_a_date_is_read_year_first_or_day_first_and_never_with_a_time_of_day(cell, expected):
    if expected[0].isdigit():
        assert f.date(cell).isoformat() == expected
    else:
        with pytest.raises(ValueError, match=re.escape(f"{cell!r} {expected}")):
            f.date(cell)

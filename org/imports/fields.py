"""Cell parsers: text in, a Python value out, or ``ValueError`` with a message saying what was expected."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import methodcaller
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db.models import TextChoices
from django.utils.translation import gettext

from org.models import (
    EARLIEST_DATE,
    IMPLAUSIBLE_DATE,
    LATEST_DATE,
    character_name,
    control_character,
    is_plausible,
    no_slash,
    visible,
)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TRUE = {"true", "yes", "y", "1", "si", "sí", "x"}
FALSE = {"false", "no", "n", "0"}
# A date, year first (2024-03-15, also 2024/03/15 or 2024.3.15) or day first (15/03/2024, 15-03-2024, 15.03.2024),
# with the time of day a spreadsheet or an HR system may append (2024-03-15 00:00:00, 15/03/2024 00:00).
TIME_OF_DAY = r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
YEAR_FIRST = re.compile(r"(\d{4})([/.\-])(\d{1,2})\2(\d{1,2})" + TIME_OF_DAY)
DAY_FIRST = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4})" + TIME_OF_DAY)

# An address these plainly accept is one Django's EmailValidator accepts too (tests/test_import_fields.py):
# ASCII dot-atom local part not starting with a formula character, dotted host names, a letters-only top level.
PLAIN_EMAIL = re.compile(
    r"[a-z0-9_][a-z0-9_%+-]*(?:\.[a-z0-9_%+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
CHOICE_SEPARATORS = re.compile(r"[\s_-]+")
PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
SPECIAL_START = methodcaller("startswith", (*FORMULA_STARTS, "'"))

Parser = Callable[[str], Any]
ColumnParser = Callable[[Sequence[str]], list[Any] | None]


class CompiledEmailValidator(EmailValidator):
    """Django's own email rules, with its regular expressions compiled up front: the lazy ones it ships cost a
    proxy lookup on every use, which shows at a hundred thousand addresses."""

    user_regex = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
    domain_regex = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)
    literal_regex = re.compile(EmailValidator.literal_regex.pattern, EmailValidator.literal_regex.flags)


validate_email = CompiledEmailValidator()


@dataclass(frozen=True)
class Column:
    """One column of a format: the field it fills, the header names it answers to, how its cells are read."""

    field: str
    parse: Parser
    required: bool = False
    headers: tuple[str, ...] = ()  # normalised header names; the field name itself is always accepted
    shown: str = ""  # how the format's own files spell the header, where not as the field: for messages

    @property
    def names(self) -> tuple[str, ...]:
        return (self.field, *self.headers)

    @property
    def label(self) -> str:
        return self.shown or self.field


def neutral_text(value: str) -> str:
    """The cell as text, refusing what a spreadsheet would run as a formula. A leading apostrophe before such a
    character or before another apostrophe (how exports neutralise such cells, and how spreadsheets mark text) is
    dropped, so exported files import unchanged."""
    if value.startswith("'") and value[1:2] and value[1] in (*FORMULA_STARTS, "'"):
        return value[1:]
    if value.startswith(FORMULA_STARTS):
        raise ValueError(
            gettext(
                "%(value)s starts with %(start)s and would run as a spreadsheet formula; "
                "put an apostrophe (') in front to keep it as text."
            )
            % {"value": repr(shorten(value)), "start": repr(value[0])}
        )
    return value


def shorten(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def text(max_length: int, *, required: bool = False, name: bool = False) -> Parser:
    """A cell's text, with no control character in it but tabs and line breaks (one comes from a file in an
    encoding other than the one it was read in);
    one that ``name``s a row (a role's name) holds no invisible character either (``org.models.visible``)."""

    def parse(value: str) -> str:
        value = neutral_text(value.strip())
        if required and not value:
            raise ValueError(gettext("A value is required here."))
        if not value.isprintable():
            if name:
                _validate(visible, value)
            if control := control_character(value):
                raise ValueError(
                    gettext(
                        "The value holds a control character (%(char)s), which this column cannot hold; if the file "
                        "was saved in another encoding, choose it with --encoding."
                    )
                    % {"char": character_name(control)}
                )
        if len(value) > max_length:
            raise ValueError(
                gettext("The value is %(length)d characters long; at most %(limit)d fit.")
                % {"length": len(value), "limit": max_length}
            )
        return value

    def parse_plain(values: Sequence[str]) -> list[str] | None:
        values = list(map(str.strip, values))
        if any(map(SPECIAL_START, values)) or (required and not all(values)) or max(map(len, values)) > max_length:
            return None
        return values if all(map(str.isprintable, values)) else None

    return column_parser(parse, parse_plain)


def key(max_length: int) -> Parser:
    """A code or number that names its row: required text, refusing what the model refuses in one (org.models.no_slash:
    a "/", or "." or ".." alone, breaks its staff page's address; org.models.visible: a character that cannot be
    seen makes a look-alike of another key)."""
    as_text = text(max_length, required=True)

    def parse(value: str) -> str:
        value = as_text(value)
        _validate(no_slash, value)
        _validate(visible, value)
        return value

    def parse_plain(values: Sequence[str]) -> list[str] | None:
        values = as_text.plain(values)
        return None if values is None or any(no_slash.regex.search(value) for value in values) else values

    return column_parser(parse, parse_plain)


def _validate(validator: Callable[[str], None], value: str) -> None:
    try:
        validator(value)
    except ValidationError as error:
        raise ValueError(error.messages[0]) from None


def long_text(value: str) -> str:
    return neutral_text(value.strip())


def email(value: str) -> str:
    value = neutral_text(value.strip())
    if not value:
        raise ValueError(gettext("A value is required here: an email address."))
    try:
        validate_email(value)
    except ValidationError:
        raise ValueError(
            gettext("%(value)s is not an email address; expected name@example.com.") % {"value": repr(shorten(value))}
        ) from None
    if len(value) > 254:
        raise ValueError(
            gettext("The address is %(length)d characters long; at most 254 fit.") % {"length": len(value)}
        )
    return value.lower()


def plain_dates(values: Sequence[str], *, required: bool = False) -> list[datetime.date | None] | None:
    values = list(map(str.strip, values))
    if (required and not all(values)) or not all(map(PLAIN_DATE.fullmatch, filter(None, values))):
        return None
    try:
        dates = [datetime.date.fromisoformat(v) if v else None for v in values]
    except ValueError:  # not a day of the calendar: the cell by cell parse says so
        return None
    if not all(map(is_plausible, filter(None, dates))):  # so does an implausible year
        return None
    return dates


def date(value: str) -> datetime.date | None:
    value = value.strip()
    if not value:
        return None
    parts = date_parts(value)
    if parts is None:
        raise ValueError(
            gettext("%(value)s is not a date; expected YYYY-MM-DD or DD/MM/YYYY.") % {"value": repr(shorten(value))}
        )
    year, month, day, time = parts
    if any(part and int(part) for part in time):  # midnight is a date alone; any other time is not
        message = gettext(
            "%(value)s holds a time of day as well as a date; expected a date alone (YYYY-MM-DD or DD/MM/YYYY):"
            " a time may stand for another day where the file was written."
        )
        raise ValueError(message % {"value": repr(shorten(value))})
    try:
        parsed = datetime.date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(
            gettext("%(value)s is not a day of the calendar; expected a real date as YYYY-MM-DD or DD/MM/YYYY.")
            % {"value": repr(shorten(value))}
        ) from None
    if not is_plausible(parsed):
        raise ValueError(
            str(IMPLAUSIBLE_DATE)
            % {"value": repr(shorten(value)), "earliest": EARLIEST_DATE.year, "latest": LATEST_DATE.year}
        )
    return parsed


def end_date(value: str) -> datetime.date | None:
    """An end date (or a leave date), where the last day of a year far beyond any real one is how HR systems
    write "no end" (9999-12-31 in most, 4712-12-31 in Oracle's, 2999-12-31): read as none (``is_no_end``)."""
    try:
        return date(value)
    except ValueError:
        if is_no_end(value):
            return None
        raise


#: The years whose 31 December HR systems write for "no end": 9999 in most, 4712 in Oracle's, 2999 in some. Only
#: these: another year past 2199 may be a typo (2205 for 2025), refused as such.
NO_END_YEARS = frozenset({2999, 4712, 9999})
#: The times such a value is exported with: midnight, or the last second of the day (9999-12-31 23:59:59).
NO_END_TIMES = frozenset({(), (0, 0), (0, 0, 0), (23, 59), (23, 59, 59)})


def is_no_end(value: str) -> bool:
    """Whether ``value`` is a 31 December of ``NO_END_YEARS``, at midnight or the day's last second if a time is
    given."""
    parts = date_parts(value.strip())
    if parts is None:
        return False
    year, month, day, time = parts
    hours, minutes, seconds, fraction = time
    clock = tuple(int(t) for t in (hours, minutes, seconds) if t is not None)
    on_time = clock in NO_END_TIMES and (not int(fraction or 0) or clock == (23, 59, 59))
    return int(year) in NO_END_YEARS and (int(month), int(day)) == (12, 31) and on_time


def date_parts(value: str) -> tuple[str, str, str, list[str | None]] | None:
    """Year, month, day and the parts of a time of day, as written in a date year first or day first."""
    match = YEAR_FIRST.fullmatch(value) or DAY_FIRST.fullmatch(value)
    if match is None:
        return None
    if match.re is YEAR_FIRST:
        year, _, month, day, *time = match.groups()
    else:
        day, _, month, year, *time = match.groups()
    return year, month, day, time


def required_date(value: str) -> datetime.date:
    parsed = date(value)
    if parsed is None:
        raise ValueError(gettext("A date is required here (YYYY-MM-DD or DD/MM/YYYY)."))
    return parsed


def plain_emails(values: Sequence[str]) -> list[str] | None:
    values = list(map(str.lower, map(str.strip, values)))
    if not all(map(PLAIN_EMAIL.fullmatch, values)) or max(map(len, values)) > 254:
        return None
    return values


def column_parser(parse: Parser, plain: ColumnParser) -> Parser:
    """``parse``, able to read a whole column in one go with ``plain`` when every cell is plainly fine."""
    parse.plain = plain  # type: ignore[attr-defined]
    return parse


column_parser(date, plain_dates)
column_parser(end_date, plain_dates)
column_parser(required_date, lambda values: plain_dates(values, required=True))
column_parser(email, plain_emails)


def parse_column(parse: Parser, values: Sequence[str]) -> list[Any] | None:
    """``values`` read by ``parse``, in one go; None when a cell needs reading on its own (to say what is wrong
    with it, or because it is not plainly fine: the cell by cell parse is the rule, this only a short cut)."""
    if not values:
        return []
    plain = getattr(parse, "plain", None)
    if plain is not None:
        return plain(values)
    try:
        return list(map(parse, values))
    except ValueError:
        return None


@dataclass(frozen=True)
class Blank:
    """An empty cell in a column with a default: the default for a new row; a stored row keeps its value (an empty
    cell cannot mean "no value" where there must be one, so it is not taken to mean "back to the default")."""

    default: Any


def boolean(default: bool) -> Parser:
    def parse(value: str) -> bool | Blank:
        value = value.strip().lower()
        if not value:
            return Blank(default)
        if value in TRUE:
            return True
        if value in FALSE:
            return False
        raise ValueError(
            gettext("%(value)s is not yes or no; expected true/false, yes/no or 1/0.") % {"value": repr(shorten(value))}
        )

    return parse


def _choice_key(text: str) -> str:
    return CHOICE_SEPARATORS.sub("_", text.strip().lower())


def choice(choices: type[TextChoices], *, default: str | None = None) -> Parser:
    """A choice by its stored value or its English label, in any case and with spaces, dashes or underscores
    between its words: 'on_hold', 'On hold', 'on-hold', 'A', 'Accountable'."""
    known = {_choice_key(str(v)): v for v in choices.values}
    known |= {_choice_key(label): v for v, label in zip(choices.values, choices.labels, strict=True)}
    expected = ", ".join(choices.values)

    def parse(value: str) -> str | Blank:
        value = value.strip()
        if not value:
            if default is None:
                raise ValueError(
                    gettext("A value is required here; expected one of %(choices)s.") % {"choices": expected}
                )
            return Blank(default)
        try:
            return known[_choice_key(value)]
        except KeyError:
            raise ValueError(
                gettext("%(value)s is not known; expected one of %(choices)s.")
                % {"value": repr(shorten(value)), "choices": expected}
            ) from None

    return parse


def percentage(value: str) -> int | None:
    value = value.strip().rstrip("%").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(
            gettext("%(value)s is not a number; expected a whole number from 0 to 100.")
            % {"value": repr(shorten(value))}
        ) from None
    if not number.is_integer():
        raise ValueError(
            gettext("%(value)s is not a whole number; expected a whole number from 0 to 100.")
            % {"value": repr(shorten(value))}
        )
    if not 0 <= number <= 100:
        raise ValueError(
            gettext("%(value)s is out of range; expected a whole number from 0 to 100.")
            % {"value": repr(shorten(value))}
        )
    return int(number)


def ignored(value: str) -> None:
    return None

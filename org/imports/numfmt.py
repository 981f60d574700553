"""A number in a workbook cell as a spreadsheet shows it through the cell's number format, for the formats people
give codes, numbers and percentages: digit placeholders (``0 # ?``), a decimal point, thousands separators and
scaling commas, percent, quoted or escaped text, padding (``_x``), fills (``*x``), colours, simple conditions and
currency tags, in up to four sections. Anything else (scientific notation, fractions, a letter that means something
to the spreadsheet) is not guessed: ``shown`` returns None and the import refuses the cell, for a key read as the
bare number would silently name another row (7 where the sheet shows E007).
"""

from __future__ import annotations

import operator
import re
from decimal import ROUND_HALF_UP, Decimal

# Characters a spreadsheet shows as they are without quotes.
LITERAL = set("$-+():!^&'~{}<>= ")
COLOURS = re.compile(r"(black|blue|cyan|green|magenta|red|white|yellow|color\s*\d+)", re.IGNORECASE)
CONDITION = re.compile(r"(<=|>=|<>|<|>|=)\s*(-?\d+(?:\.\d*)?)")
COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq}
COMPARE["<>"] = operator.ne
PLACEHOLDERS = "0#?"


def shown(number: int | float, number_format: str) -> str | None:
    """``number`` as shown through ``number_format``, or None for a format this module does not read."""
    sections = _split(number_format)
    if sections is None or len(sections) > 4:
        return None
    parsed = [_tokens(section) for section in sections]
    if any(p is None for p in parsed):
        return None
    chosen = _choose(number, parsed)  # type: ignore[arg-type]
    if chosen is None:
        return None
    tokens, signed = chosen
    if tokens == [("general", "")]:
        return ("-" if signed and number < 0 else "") + _general(abs(number))
    text = _render(abs(number), tokens)
    return None if text is None else ("-" if signed and number < 0 else "") + text


def _general(number: int | float) -> str:
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


def _split(number_format: str) -> list[str] | None:
    """The sections between unquoted semicolons."""
    sections, current, i = [], [], 0
    while i < len(number_format):
        c = number_format[i]
        if c == '"':
            end = number_format.find('"', i + 1)
            if end < 0:
                return None
            current.append(number_format[i : end + 1])
            i = end + 1
            continue
        if c in "\\_*":
            current.append(number_format[i : i + 2])
            i += 2
            continue
        if c == ";":
            sections.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    sections.append("".join(current))
    return sections


Token = tuple[str, str]  # (kind, text): literal, digit, point, comma, percent, condition, general


def _tokens(section: str) -> list[Token] | None:
    tokens: list[Token] = []
    i = 0
    while i < len(section):
        c = section[i]
        if c == '"':
            end = section.index('"', i + 1)
            tokens.append(("literal", section[i + 1 : end]))
            i = end + 1
            continue
        if c == "\\":
            tokens.append(("literal", section[i + 1 : i + 2]))
        elif c == "_":
            tokens.append(("literal", " "))  # room as wide as the next character: a space in text
        elif c == "*":
            pass  # a fill repeats its character across the column's width: nothing in text
        elif c == "[":
            end = section.find("]", i)
            if end < 0:
                return None
            inside = section[i + 1 : end]
            if condition := CONDITION.fullmatch(inside.strip()):
                tokens.append(("condition", f"{condition[1]} {condition[2]}"))
            elif inside.startswith("$"):  # a currency and locale tag, [$€-407]: its symbol shows
                tokens.append(("literal", inside[1:].split("-", 1)[0]))
            elif not COLOURS.fullmatch(inside):
                return None
            i = end + 1
            continue
        elif section[i : i + 7].lower() == "general":
            tokens.append(("general", ""))
            i += 7
            continue
        elif c in PLACEHOLDERS:
            tokens.append(("digit", c))
        elif c == ".":
            tokens.append(("point", "."))
        elif c == ",":
            tokens.append(("comma", ","))
        elif c == "%":
            tokens.append(("percent", "%"))
        elif c in LITERAL:
            tokens.append(("literal", c))
        else:  # E+ (scientific), / (fractions), @ (text), letters: not read
            return None
        i += 2 if c in "\\_*" else 1
    if any(kind == "general" for kind, _ in tokens) and any(kind in ("digit", "point") for kind, _ in tokens):
        return None
    return tokens


def _choose(number: int | float, sections: list[list[Token]]) -> tuple[list[Token], bool] | None:
    """The section that shows ``number`` (without its condition) and whether the minus sign is shown before it."""
    conditions = [next((text for kind, text in s if kind == "condition"), None) for s in sections]
    plain = [[t for t in s if t[0] != "condition"] for s in sections]
    if any(conditions):
        for section, condition in zip(plain, conditions, strict=True):
            if condition is None:
                return section, number < 0  # the first section without a condition takes the rest
            op, limit = condition.split()
            if COMPARE[op](number, float(limit)):
                return section, number < 0 and float(limit) >= 0
        return None
    if number > 0 or len(plain) == 1:
        return plain[0], number < 0
    if number < 0:
        return plain[1], False  # the negative section writes its own sign, or none
    return plain[2] if len(plain) > 2 else plain[0], False


def _render(number: int | float, tokens: list[Token]) -> str | None:
    digits = [i for i, (kind, _) in enumerate(tokens) if kind == "digit"]
    if not digits:  # a section of text alone shows that text and not the number
        return "".join(text for kind, text in tokens if kind in ("literal", "percent"))
    point = next((i for i, (kind, _) in enumerate(tokens) if kind == "point"), len(tokens))
    integers = [i for i in digits if i < point]
    decimals = [i for i in digits if i > point]
    value = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    value *= Decimal(100) ** sum(kind == "percent" for kind, _ in tokens)
    grouped = False
    for i, (kind, _) in enumerate(tokens):
        if kind == "comma" and i < point and integers and integers[0] < i:
            if i < integers[-1]:
                grouped = True
            else:  # after the last integer digit: each one divides by 1000
                value /= 1000
    rounded = value.quantize(Decimal(1).scaleb(-len(decimals)), rounding=ROUND_HALF_UP)
    whole, _, fraction = f"{rounded:f}".partition(".")
    filled = _integer("" if whole == "0" else whole, [tokens[i][1] for i in integers])
    if grouped:  # 1,234: the digits of contiguous placeholders in groups of three
        if any(kind not in ("digit", "comma") for kind, _ in tokens[integers[0] : integers[-1]]):
            return None
        text = "".join(filled)
        body = text.lstrip(" ")
        groups = [body[max(0, k - 3) : k] for k in range(len(body), 0, -3)]
        filled = [text[: len(text) - len(body)] + ",".join(reversed(groups))] + [""] * (len(integers) - 1)
    by_slot = dict(zip(integers, filled, strict=True))
    by_slot.update(zip(decimals, _fraction(fraction, [tokens[i][1] for i in decimals]), strict=True))
    out = []
    for i, (kind, text) in enumerate(tokens):
        if kind == "digit":
            out.append(by_slot[i])
        elif kind in ("literal", "percent", "point"):
            out.append(text)
    return "".join(out)


def _integer(digits: str, slots: list[str]) -> list[str]:
    """What each integer placeholder shows, filled right to left; the first one takes every digit left over."""
    if not slots:
        return []
    shown = []
    remaining = list(digits)
    for placeholder in reversed(slots):
        shown.append(remaining.pop() if remaining else {"0": "0", "#": "", "?": " "}[placeholder])
    shown.reverse()
    shown[0] = "".join(remaining) + shown[0]
    return shown


def _fraction(fraction: str, slots: list[str]) -> list[str]:
    """What each decimal placeholder shows: trailing zeros only where a 0 asks for them."""
    shown = list(fraction.ljust(len(slots), "0"))[: len(slots)]
    for k in range(len(slots) - 1, -1, -1):
        if shown[k] != "0" or slots[k] == "0":
            break
        shown[k] = "" if slots[k] == "#" else " "
    return shown

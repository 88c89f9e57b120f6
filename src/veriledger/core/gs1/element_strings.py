"""GS1 element strings: an Application Identifier (AI) and its value.

The human-readable form (HRI) writes each AI in brackets before its value:
``(01)09506000134352(21)ABC``. A literal ``(`` inside a value is escaped as ``\\(``
(GS1 CSET 82 has no backslash, so the escape cannot be confused with data).

Validation runs in the syntax engine's order: each AI must be in the table (or allowed
as unknown), each value must fit its components and pass their linters, and then the
AIs must go together: none excluded by another (``ex``), every one that another requires
present (``req``), a repeated AI always with the same value, and the serial component
present on (253), (255) and (8003) when a (8030) digital signature is present.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from veriledger.core.errors import AICombinationError, CheckDigitError, GS1FormatError
from veriledger.core.gs1.ai_table import AIEntry, AITable, default_ai_table, matches_template
from veriledger.core.gs1.check_digits import gs1_check_character_pair, gs1_check_digit
from veriledger.core.gs1.linters import (
    CHECKSUM_LINTERS,
    LINTERS,
    charset_reason,
)
from veriledger.core.gs1.options import STRICT, ParseOptions

_SERIALISED_WITH_DIGSIG = ("253", "255", "8003")


@dataclass(frozen=True)
class ElementString:
    """One AI and its value, e.g. ``ElementString("01", "09506000134352")``.

    Construction does not validate; :func:`parse_element_strings` and
    :func:`validate_element_strings` do.
    """

    ai: str
    value: str

    def __str__(self) -> str:
        return f"({self.ai}){self.value.replace('(', chr(92) + '(')}"


def ai_field(text: str) -> str:
    """``text`` as an error's field if it looks like an AI, else ``"AI"``,
    so a garbage AI does not become a garbage field name."""
    return text if 2 <= len(text) <= 4 and all("0" <= c <= "9" for c in text) else "AI"


def format_element_strings(elements: Iterable[ElementString]) -> str:
    """The HRI text of ``elements``, in the order given."""
    return "".join(str(e) for e in elements)


def parse_element_strings(
    text: str, options: ParseOptions = STRICT, table: AITable | None = None
) -> tuple[ElementString, ...]:
    """Parse HRI text such as ``(01)09506000134352(21)ABC`` and validate it fully.

    Returns the element strings in the order written. ``table`` defaults to the AI
    table shipped with the package.

    Raises:
        GS1FormatError: not in ``(AI)value`` form, an unknown AI, an empty value, or a
            value that breaks its AI's format.
        CheckDigitError: a check digit (or check character pair) is wrong.
        AICombinationError: the AIs do not go together (see the module docstring).
    """
    table = table or default_ai_table()
    if not isinstance(text, str):
        raise GS1FormatError("element string", repr(text), "not a string")
    if not text:
        raise GS1FormatError("element string", text, "empty")
    elements: list[ElementString] = []
    pos = 0
    while pos < len(text):
        if text[pos] != "(":
            raise GS1FormatError("element string", text, f"expected '(' at offset {pos}")
        close = text.find(")", pos + 1)
        if close < 0:
            raise GS1FormatError("element string", text, f"no ')' after '(' at offset {pos}")
        ai = text[pos + 1 : close]
        if lookup_ai(ai, options, table) is None:
            raise GS1FormatError(ai_field(ai), text, f"unknown AI ({ai})")
        value, pos = _read_value(text, close + 1)
        elements.append(ElementString(ai, value))
    validate_element_strings(elements, options, table)
    return tuple(elements)


def _read_value(text: str, start: int) -> tuple[str, int]:
    """The value from ``start`` up to the next unescaped ``(``, and where it ends."""
    parts: list[str] = []
    pos = start
    while True:
        bracket = text.find("(", pos)
        if bracket < 0:
            parts.append(text[pos:])
            return "".join(parts), len(text)
        if bracket > 0 and text[bracket - 1] == "\\":
            parts.append(text[pos : bracket - 1] + "(")
            pos = bracket + 1
            continue
        parts.append(text[pos:bracket])
        return "".join(parts), bracket


def lookup_ai(
    ai: str, options: ParseOptions = STRICT, table: AITable | None = None
) -> AIEntry | None:
    """The table entry for ``ai`` under ``options``, or ``None`` if it is unknown."""
    return (table or default_ai_table()).lookup(ai, options.permit_unknown_ais)


def validate_ai_value(
    ai: str, value: str, options: ParseOptions = STRICT, table: AITable | None = None
) -> AIEntry:
    """Check one AI's value against its components and their linters.

    Returns the AI's table entry.

    Raises:
        GS1FormatError: unknown AI, empty value, wrong length, a character outside the
            component's set, or a linter's rule broken.
        CheckDigitError: a check digit or check character pair is wrong.
    """
    if not isinstance(ai, str) or not isinstance(value, str):
        raise GS1FormatError(str(ai), repr(value), "AI and value must be strings")
    if table is None or table is default_ai_table():
        return _validate_in_default_table(ai, value, options)
    return _validate(ai, value, options, table)


@functools.lru_cache(maxsize=8192)  # a GTIN or GLN recurs in every event naming its items
def _validate_in_default_table(ai: str, value: str, options: ParseOptions) -> AIEntry:
    return _validate(ai, value, options, default_ai_table())


def _validate(ai: str, value: str, options: ParseOptions, table: AITable) -> AIEntry:
    entry = lookup_ai(ai, options, table)
    if entry is None:
        raise GS1FormatError(ai_field(ai), value, f"unknown AI ({ai})")
    if not value:
        raise GS1FormatError(ai, value, "empty value")
    if not entry.min_length <= len(value) <= entry.max_length:
        want = (
            str(entry.min_length)
            if entry.min_length == entry.max_length
            else f"{entry.min_length} to {entry.max_length}"
        )
        raise GS1FormatError(ai, value, f"value has {len(value)} characters, want {want}")
    pos = 0
    for component in entry.components:
        length = min(len(value) - pos, component.max_length)
        if component.optional and length == 0:
            continue
        if length < component.min_length:
            raise GS1FormatError(
                ai, value, f"component at offset {pos} is too short ({length} characters)"
            )
        part = value[pos : pos + length]
        reason = charset_reason(component.charset, part)
        if reason is not None:
            raise GS1FormatError(ai, value, reason)
        for linter in component.linters:
            _lint(ai, value, part, linter)
        pos += length
    if pos < len(value):
        raise GS1FormatError(ai, value, f"value is too long ({len(value)} characters)")
    return entry


def _lint(ai: str, value: str, part: str, linter: str) -> None:
    if linter in CHECKSUM_LINTERS:
        if linter == "csum":
            expected, got = str(gs1_check_digit(part[:-1], ai)), part[-1:]
            if expected != got:
                raise CheckDigitError(ai, value, expected, got)
        elif len(part) < 2:
            raise GS1FormatError(ai, value, "too short for a check character pair")
        else:
            expected, got = gs1_check_character_pair(part[:-2], ai), part[-2:]
            if expected != got:
                raise CheckDigitError(ai, value, expected, got, "check character pair")
        return
    check = LINTERS.get(linter)
    if check is None:
        # UNCHECKED_LINTERS, or a linter from a newer dictionary: the character set and
        # length checks above still hold.
        return
    reason = check(part)
    if reason is not None:
        raise GS1FormatError(ai, value, reason)


def validate_element_strings(
    elements: Sequence[ElementString],
    options: ParseOptions = STRICT,
    table: AITable | None = None,
) -> None:
    """Validate every value, then check that the AIs go together.

    Raises:
        GS1FormatError: no element strings, or a value breaks its AI's format.
        CheckDigitError: a check digit is wrong.
        AICombinationError: an excluded pair, a missing required AI, an AI repeated with
            another value, or (8030) with an unserialised (253), (255) or (8003).
    """
    table = table or default_ai_table()
    if not elements:
        raise GS1FormatError("element string", "", "no element strings")
    entries = {e.ai: validate_ai_value(e.ai, e.value, options, table) for e in elements}
    check_combinations(elements, entries, options)


def _present(template: str, ais: Iterable[str], itself: str) -> str | None:
    for ai in ais:
        if ai != itself and matches_template(template, ai):
            return ai
    return None


def check_combinations(
    elements: Sequence[ElementString], entries: dict[str, AIEntry], options: ParseOptions
) -> None:
    """The pairing rules of the syntax dictionary (see :func:`validate_element_strings`).

    ``entries`` maps each AI in ``elements`` to its table entry.

    Raises:
        AICombinationError: the first rule broken, naming both AIs where there are two.
    """
    ais = list(dict.fromkeys(e.ai for e in elements))
    values = {e.ai: e.value for e in elements}
    for ai in ais:
        for template in entries[ai].excludes:
            other = _present(template, ais, ai)
            if other is not None:
                raise AICombinationError(
                    ai, values[ai], f"({ai}) may not appear together with ({other})"
                )
    if options.check_requisites:
        for ai in ais:
            for requirement in entries[ai].requires:
                if not any(
                    all(_present(t, ais, ai) is not None for t in group) for group in requirement
                ):
                    wanted = " or ".join("+".join(f"({t})" for t in g) for g in requirement)
                    raise AICombinationError(ai, values[ai], f"({ai}) requires {wanted}")
    for element in elements:
        if element.value != values[element.ai]:
            raise AICombinationError(
                element.ai, element.value, f"({element.ai}) appears with different values"
            )
    if "8030" in values:
        for ai in _SERIALISED_WITH_DIGSIG:
            if ai in values and len(values[ai]) == entries[ai].min_length:
                raise AICombinationError(
                    ai, values[ai], f"({ai}) needs its serial component alongside (8030)"
                )


def as_element_strings(
    data: str | Iterable[ElementString], options: ParseOptions = STRICT
) -> tuple[ElementString, ...]:
    """HRI text parsed, or element strings validated, as one tuple.

    Raises:
        GS1FormatError, CheckDigitError, AICombinationError: as
            :func:`parse_element_strings`.
    """
    if isinstance(data, str):
        return parse_element_strings(data, options)
    elements = tuple(data)
    validate_element_strings(elements, options)
    return elements

"""The table of GS1 Application Identifiers (AIs) that drives every parser here.

The table is the GS1 Barcode Syntax Dictionary turned into JSON
(``data/ai_syntax_dictionary.json``, see ``data/README.md`` for its source). Each AI
lists the components of its value (character set, length, linters), whether its length
is predefined (no FNC1 separator needed after it), whether a Digital Link URI may carry
it as a query attribute, and its pairing rules: ``req`` (AIs that must appear with it),
``ex`` (AIs that must not) and ``dlpkey`` (it is a Digital Link primary key, with the
key qualifiers that may follow it in the path, in order).

Keeping the rules as data rather than code means a new edition of the dictionary is a
data update, and the parser reads like the standard: look the AI up, check each
component, then check the pairings.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

_PACKAGE = "veriledger.core.gs1"
_COMPONENT = re.compile(r"(\[)?([NXYZ])(\d*)(?:\.\.(\d+))?(\])?")

REQUIREMENT = tuple[tuple[str, ...], ...]
"""One ``req=`` rule: alternatives, each a group of AI templates that must all appear."""

# Prefixes whose AIs have a predefined value length (GS1 General Specifications, figure
# 5.10.2-2). Consulted only for AIs missing from the table, when unknown AIs are allowed.
_PREDEFINED_VALUE_LENGTHS = {
    "00": 18, "01": 14, "02": 14, "03": 14, "04": 16,
    "11": 6, "12": 6, "13": 6, "14": 6, "15": 6, "16": 6, "17": 6, "18": 6, "19": 6,
    "20": 2,
    "31": 6, "32": 6, "33": 6, "34": 6, "35": 6, "36": 6,
    "41": 13,
}  # fmt: skip


@dataclass(frozen=True)
class Component:
    """One part of an AI value: a character set, a length range and linters.

    ``charset`` is ``N`` (digits), ``X`` (GS1 CSET 82), ``Y`` (CSET 39) or ``Z``
    (base64url, CSET 64). An optional component may be absent, but only at the end.
    """

    charset: str
    min_length: int
    max_length: int
    optional: bool
    linters: tuple[str, ...]


@dataclass(frozen=True)
class AIEntry:
    """The syntax and pairing rules of one AI."""

    ai: str
    title: str
    components: tuple[Component, ...]
    predefined_length: bool
    """No FNC1 separator follows this AI in a barcode: its length is fixed by its prefix."""
    dl_data_attribute: bool
    """A Digital Link URI may carry it in the query string."""
    requires: tuple[REQUIREMENT, ...] = ()
    excludes: tuple[str, ...] = ()
    dl_qualifiers: tuple[tuple[str, ...], ...] | None = None
    """``None`` unless a Digital Link primary key; then its qualifier lists, in order."""
    known: bool = True
    """False for a stand-in entry made for an AI missing from the table."""

    @property
    def min_length(self) -> int:
        return sum(c.min_length for c in self.components if not c.optional)

    @property
    def max_length(self) -> int:
        return sum(c.max_length for c in self.components)

    @property
    def is_primary_key(self) -> bool:
        return self.dl_qualifiers is not None


def _parse_component(spec: str, ai: str) -> Component:
    head, *linters = spec.split(",")
    m = _COMPONENT.fullmatch(head)
    if m is None or bool(m.group(1)) != bool(m.group(5)):
        raise ValueError(f"AI table: bad component {spec!r} for AI {ai}")  # a packaging bug
    charset, low, high = m.group(2), m.group(3), m.group(4)
    if high is None:
        min_length = max_length = int(low)
    else:
        min_length, max_length = (int(low) if low else 1), int(high)
    return Component(charset, min_length, max_length, bool(m.group(1)), tuple(linters))


def _parse_entry(raw: Mapping[str, Any]) -> AIEntry:
    ai = str(raw["ai"])
    requires: list[REQUIREMENT] = []
    excludes: list[str] = []
    qualifiers: tuple[tuple[str, ...], ...] | None = None
    for attribute in raw["attributes"]:
        name, _, arg = str(attribute).partition("=")
        if name == "req":
            requires.append(tuple(tuple(group.split("+")) for group in arg.split(",")))
        elif name == "ex":
            excludes.extend(arg.split(","))
        elif name == "dlpkey":
            qualifiers = tuple(tuple(alt.split(",")) for alt in arg.split("|")) if arg else ((),)
    return AIEntry(
        ai=ai,
        title=str(raw["title"]),
        components=tuple(_parse_component(str(c), ai) for c in raw["components"]),
        predefined_length=bool(raw["fixed_length_no_fnc1"]),
        dl_data_attribute=bool(raw["dl_data_attribute"]),
        requires=tuple(requires),
        excludes=tuple(excludes),
        dl_qualifiers=qualifiers,
    )


@functools.lru_cache(maxsize=8192)  # pairing checks ask the same few pairs for every key
def matches_template(template: str, ai: str) -> bool:
    """Whether ``ai`` fits a pairing-rule template such as ``"31nn"`` (n: any digit)."""
    return len(template) == len(ai) and all(
        t in ("n", a) for t, a in zip(template, ai, strict=True)
    )


class AITable:
    """AIs by number, with the Digital Link key-qualifier paths they allow."""

    def __init__(self, entries: Iterable[AIEntry]) -> None:
        self.entries: dict[str, AIEntry] = {e.ai: e for e in entries}
        self.prefix_lengths: dict[str, int] = {}
        for ai in self.entries:
            self.prefix_lengths.setdefault(ai[:2], len(ai))
        sequences: set[tuple[str, ...]] = set()
        for entry in self.entries.values():
            for alternative in entry.dl_qualifiers or ():
                for r in range(len(alternative) + 1):
                    for chosen in itertools.combinations(alternative, r):
                        sequences.add((entry.ai, *chosen))
        self.path_sequences: frozenset[tuple[str, ...]] = frozenset(sequences)
        """Every valid Digital Link path AI sequence: a primary key, then qualifiers."""
        self.sorted_path_sequences: tuple[tuple[str, ...], ...] = tuple(
            sorted(sequences, key=" ".join)
        )
        """The same, ordered as gs1-syntax-engine orders them (by their text), which
        decides which path is chosen when several fit the data equally well."""
        by_key: dict[str, list[tuple[str, ...]]] = {}
        for sequence in self.sorted_path_sequences:
            by_key.setdefault(sequence[0], []).append(sequence)
        self.path_sequences_by_key: dict[str, tuple[tuple[str, ...], ...]] = {
            key: tuple(found) for key, found in by_key.items()
        }
        """The sorted sequences grouped by their primary key, so that building a link
        looks only at its own key's few sequences."""

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> AITable:
        """Build from the JSON form of the syntax dictionary (``{"ais": [...]}``)."""
        return cls(_parse_entry(raw) for raw in document["ais"])

    def lookup(self, ai: str, permit_unknown: bool = False) -> AIEntry | None:
        """The entry for ``ai``, or ``None`` if there is none.

        With ``permit_unknown``, an AI missing from the table still gets a stand-in
        entry (any CSET 82 value of 1 to 90 characters, or the predefined length of its
        prefix) when it is 2 to 4 digits long and its length agrees with the other AIs
        sharing its first two digits.
        """
        entry = self.entries.get(ai)
        if entry is not None or not permit_unknown:
            return entry
        if not 2 <= len(ai) <= 4 or not all("0" <= ch <= "9" for ch in ai):
            return None
        prefix_length = self.prefix_lengths.get(ai[:2])
        if prefix_length is not None and prefix_length != len(ai):
            return None
        fixed = _PREDEFINED_VALUE_LENGTHS.get(ai[:2])
        low, high = (fixed, fixed) if fixed is not None else (1, 90)
        return AIEntry(
            ai=ai,
            title="UNKNOWN",
            components=(Component("X", low, high, False, ()),),
            predefined_length=fixed is not None,
            dl_data_attribute=True,
            known=False,
        )

    def is_path_sequence(self, ais: Iterable[str]) -> bool:
        """Whether ``ais`` is a primary key followed by its qualifiers in a valid order."""
        return tuple(ais) in self.path_sequences


@functools.cache
def default_ai_table() -> AITable:
    """The AI table shipped with this package (loaded once)."""
    text = (
        resources.files(_PACKAGE)
        .joinpath("data/ai_syntax_dictionary.json")
        .read_text(encoding="utf-8")
    )
    return AITable.from_json(json.loads(text))


@functools.cache
def code_lists() -> dict[str, frozenset[str]]:
    """The code lists some linters check against (ISO 3166, ISO 4217, ...)."""
    text = resources.files(_PACKAGE).joinpath("data/code_lists.json").read_text(encoding="utf-8")
    document = json.loads(text)
    return {k: frozenset(str(code) for code in v) for k, v in document.items() if k != "source"}

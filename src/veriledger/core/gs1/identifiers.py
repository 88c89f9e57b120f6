"""Value types for the GS1 identifiers the ledger's modules use.

Each type checks itself when made, so holding one means holding a valid identifier, and
each turns into element strings (``element_strings()``) from which the Digital Link
(:func:`.build_digital_link`) and EPC URI (:func:`.epc_uri_from_element_strings`)
forms follow. ``from_element_strings`` picks a type's AIs out of a parsed element string
or Digital Link URI and ignores the rest.

======  =======================================  ==========
type    what it names                            AIs
======  =======================================  ==========
GTIN    a trade item (product), as GTIN-14       (01)
SGTIN   one serialised instance of a GTIN        (01) (21)
LGTIN   one batch or lot of a GTIN               (01) (10)
SSCC    a logistic unit (pallet, parcel)         (00)
GLN     a party or location                      (414)
SGLN    a location, with an optional extension   (414) (254)
GCN     a coupon, optionally serialised          (255)
======  =======================================  ==========
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from veriledger.core.errors import GS1FormatError
from veriledger.core.gs1.check_digits import is_digits, verify_check_digit
from veriledger.core.gs1.element_strings import (
    ElementString,
    format_element_strings,
    validate_ai_value,
)

_GTIN_LENGTHS = (8, 12, 13, 14)


def _pick(elements: Iterable[ElementString], ai: str, what: str) -> str:
    for element in elements:
        if element.ai == ai:
            return element.value
    raise GS1FormatError(ai, "", f"{what} needs ({ai}), which is missing")


def _maybe(elements: Iterable[ElementString], ai: str) -> str | None:
    return next((e.value for e in elements if e.ai == ai), None)


@dataclass(frozen=True)
class GTIN:
    """A Global Trade Item Number, held as 14 digits (GTIN-8, -12 and -13 padded).

    Raises:
        GS1FormatError: not 14 digits (use :meth:`parse` for the shorter forms).
        CheckDigitError: the check digit is wrong.
    """

    value: str

    def __post_init__(self) -> None:
        validate_ai_value("01", self.value)

    @classmethod
    def parse(cls, text: str) -> GTIN:
        """A GTIN-8, -12, -13 or -14, normalised to 14 digits.

        Raises:
            GS1FormatError: not 8, 12, 13 or 14 digits.
            CheckDigitError: the check digit is wrong.
        """
        if not is_digits(text) or len(text) not in _GTIN_LENGTHS:
            raise GS1FormatError("01", text, "a GTIN is 8, 12, 13 or 14 digits")
        verify_check_digit(text, "01")
        return cls(text.rjust(14, "0"))

    @classmethod
    def from_element_strings(cls, elements: Iterable[ElementString]) -> GTIN:
        return cls(_pick(elements, "01", "a GTIN"))

    @property
    def indicator(self) -> str:
        """The first digit: packaging level (0 for GTIN-8/12/13, 1-8, or 9 for variable
        measure)."""
        return self.value[0]

    def element_strings(self) -> tuple[ElementString, ...]:
        return (ElementString("01", self.value),)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SGTIN:
    """A serialised GTIN: one individual item.

    Raises:
        GS1FormatError: the serial is empty, over 20 characters or outside CSET 82.
    """

    gtin: GTIN
    serial: str

    def __post_init__(self) -> None:
        validate_ai_value("21", self.serial)

    @classmethod
    def from_element_strings(cls, elements: Iterable[ElementString]) -> SGTIN:
        listed = list(elements)
        return cls(GTIN.from_element_strings(listed), _pick(listed, "21", "an SGTIN"))

    def element_strings(self) -> tuple[ElementString, ...]:
        return (ElementString("01", self.gtin.value), ElementString("21", self.serial))

    def __str__(self) -> str:
        return format_element_strings(self.element_strings())


@dataclass(frozen=True)
class LGTIN:
    """A GTIN with a batch or lot number (AI 10).

    Raises:
        GS1FormatError: the lot is empty, over 20 characters or outside CSET 82.
    """

    gtin: GTIN
    lot: str

    def __post_init__(self) -> None:
        validate_ai_value("10", self.lot)

    @classmethod
    def from_element_strings(cls, elements: Iterable[ElementString]) -> LGTIN:
        listed = list(elements)
        return cls(GTIN.from_element_strings(listed), _pick(listed, "10", "an LGTIN"))

    def element_strings(self) -> tuple[ElementString, ...]:
        return (ElementString("01", self.gtin.value), ElementString("10", self.lot))

    def __str__(self) -> str:
        return format_element_strings(self.element_strings())


@dataclass(frozen=True)
class SSCC:
    """A Serial Shipping Container Code (18 digits).

    Raises:
        GS1FormatError: not 18 digits.
        CheckDigitError: the check digit is wrong.
    """

    value: str

    def __post_init__(self) -> None:
        validate_ai_value("00", self.value)

    @classmethod
    def from_element_strings(cls, elements: Iterable[ElementString]) -> SSCC:
        return cls(_pick(elements, "00", "an SSCC"))

    def element_strings(self) -> tuple[ElementString, ...]:
        return (ElementString("00", self.value),)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class GLN:
    """A Global Location Number (13 digits).

    Raises:
        GS1FormatError: not 13 digits.
        CheckDigitError: the check digit is wrong.
    """

    value: str

    def __post_init__(self) -> None:
        validate_ai_value("414", self.value)

    @classmethod
    def from_element_strings(cls, elements: Iterable[ElementString]) -> GLN:
        return cls(_pick(elements, "414", "a GLN"))

    def element_strings(self) -> tuple[ElementString, ...]:
        return (ElementString("414", self.value),)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SGLN:
    """A GLN with an optional extension (AI 254) naming a sub-location.

    Raises:
        GS1FormatError: the extension is empty, over 20 characters or outside CSET 82.
    """

    gln: GLN
    extension: str | None = None

    def __post_init__(self) -> None:
        if self.extension is not None:
            validate_ai_value("254", self.extension)

    @classmethod
    def from_element_strings(cls, elements: Iterable[ElementString]) -> SGLN:
        listed = list(elements)
        return cls(GLN.from_element_strings(listed), _maybe(listed, "254"))

    def element_strings(self) -> tuple[ElementString, ...]:
        base = (ElementString("414", self.gln.value),)
        return base if self.extension is None else (*base, ElementString("254", self.extension))

    def __str__(self) -> str:
        return format_element_strings(self.element_strings())


@dataclass(frozen=True)
class GCN:
    """A Global Coupon Number (AI 255): 13 digits ending in a check digit (company
    prefix and coupon reference), then an optional serial of up to 12 digits.

    Raises:
        GS1FormatError: not 13 to 25 digits.
        CheckDigitError: the check digit of the first 13 digits is wrong.
    """

    value: str

    def __post_init__(self) -> None:
        validate_ai_value("255", self.value)

    @classmethod
    def from_element_strings(cls, elements: Iterable[ElementString]) -> GCN:
        return cls(_pick(elements, "255", "a GCN"))

    @property
    def coupon(self) -> str:
        """The first 13 digits: company prefix, coupon reference and check digit."""
        return self.value[:13]

    @property
    def serial(self) -> str | None:
        return self.value[13:] or None

    def element_strings(self) -> tuple[ElementString, ...]:
        return (ElementString("255", self.value),)

    def __str__(self) -> str:
        return self.value

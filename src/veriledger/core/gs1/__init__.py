"""GS1 identifiers: check digits, element strings, Digital Link URIs and EPC URIs.

Everything is driven by the GS1 Barcode Syntax Dictionary shipped in ``data/`` and is
strict by default; :class:`ParseOptions` names each leniency. Every function raises
only :class:`~veriledger.core.errors.GS1Error` subclasses on bad input.

Layout, one concern per module:

- ``check_digits``: mod-10 check digits, the GMN check character pair, key validation.
- ``ai_table``: the AI table and its Digital Link key-qualifier paths.
- ``linters``: the content rules the table attaches to AI components.
- ``element_strings``: ``(AI)value`` parsing, formatting and pairing rules.
- ``identifiers``: value types (GTIN, SGTIN, LGTIN, SSCC, GLN, SGLN, GCN).
- ``digital_link``: GS1 Digital Link URIs.
- ``epc``: EPC pure identity URIs.
"""

from veriledger.core.errors import (
    AICombinationError,
    CheckDigitError,
    DigitalLinkError,
    EPCURIError,
    GS1Error,
    GS1FormatError,
)
from veriledger.core.gs1.ai_table import AIEntry, AITable, Component, default_ai_table
from veriledger.core.gs1.check_digits import (
    KeyType,
    gs1_check_character_pair,
    gs1_check_digit,
    is_valid_key,
    validate_key,
    verify_check_character_pair,
    verify_check_digit,
)
from veriledger.core.gs1.digital_link import (
    CANONICAL_STEM,
    CANONICALIZE_OPTIONS,
    DigitalLink,
    build_digital_link,
    canonicalize_digital_link,
    is_valid_path_sequence,
    parse_digital_link,
    validate_path_sequence,
)
from veriledger.core.gs1.dl_compression import (
    compress_digital_link,
    decompress_digital_link,
    is_compressed_digital_link,
)
from veriledger.core.gs1.element_strings import (
    ElementString,
    format_element_strings,
    parse_element_strings,
    validate_ai_value,
    validate_element_strings,
)
from veriledger.core.gs1.epc import (
    digital_link_from_epc_uri,
    element_strings_from_epc_uri,
    epc_uri_from_digital_link,
    epc_uri_from_element_strings,
)
from veriledger.core.gs1.identifiers import GCN, GLN, GTIN, LGTIN, SGLN, SGTIN, SSCC
from veriledger.core.gs1.options import STRICT, ParseOptions

__all__ = [
    "CANONICALIZE_OPTIONS",
    "CANONICAL_STEM",
    "GCN",
    "GLN",
    "GTIN",
    "LGTIN",
    "SGLN",
    "SGTIN",
    "SSCC",
    "STRICT",
    "AICombinationError",
    "AIEntry",
    "AITable",
    "CheckDigitError",
    "Component",
    "DigitalLink",
    "DigitalLinkError",
    "EPCURIError",
    "ElementString",
    "GS1Error",
    "GS1FormatError",
    "KeyType",
    "ParseOptions",
    "build_digital_link",
    "canonicalize_digital_link",
    "compress_digital_link",
    "decompress_digital_link",
    "default_ai_table",
    "digital_link_from_epc_uri",
    "element_strings_from_epc_uri",
    "epc_uri_from_digital_link",
    "epc_uri_from_element_strings",
    "format_element_strings",
    "gs1_check_character_pair",
    "gs1_check_digit",
    "is_compressed_digital_link",
    "is_valid_key",
    "is_valid_path_sequence",
    "parse_digital_link",
    "parse_element_strings",
    "validate_ai_value",
    "validate_element_strings",
    "validate_key",
    "validate_path_sequence",
    "verify_check_character_pair",
    "verify_check_digit",
]

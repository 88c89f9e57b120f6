"""The public surface of veriledger.core.gs1, its error tree and its shipped data."""

from __future__ import annotations

import json
from importlib import resources

import veriledger.core.gs1 as gs1
from tests.shared_data import SHARED_DATA
from veriledger.core import errors
from veriledger.core.gs1.ai_table import default_ai_table
from veriledger.core.gs1.linters import CHECKSUM_LINTERS, LINTERS, UNCHECKED_LINTERS


def test_exported_members() -> None:
    assert sorted(gs1.__all__) == sorted(
        [
            "AICombinationError", "AIEntry", "AITable", "CANONICALIZE_OPTIONS",
            "CANONICAL_STEM", "CheckDigitError", "Component", "DigitalLink",
            "DigitalLinkError", "EPCURIError", "ElementString", "GCN", "GLN", "GS1Error",
            "GS1FormatError", "GTIN", "KeyType", "LGTIN", "ParseOptions", "SGLN", "SGTIN",
            "SSCC", "STRICT", "build_digital_link", "canonicalize_digital_link",
            "compress_digital_link", "decompress_digital_link", "is_compressed_digital_link",
            "default_ai_table", "digital_link_from_epc_uri", "element_strings_from_epc_uri",
            "epc_uri_from_digital_link", "epc_uri_from_element_strings",
            "format_element_strings", "gs1_check_character_pair", "gs1_check_digit",
            "is_valid_key", "is_valid_path_sequence", "parse_digital_link",
            "parse_element_strings", "validate_ai_value", "validate_element_strings",
            "validate_key", "validate_path_sequence", "verify_check_character_pair",
            "verify_check_digit",
        ]
    )  # fmt: skip
    for name in gs1.__all__:
        assert hasattr(gs1, name), name


def test_errors_sit_under_bad_input_and_in_the_docstring_tree() -> None:
    for cls in (
        errors.GS1FormatError,
        errors.CheckDigitError,
        errors.AICombinationError,
        errors.DigitalLinkError,
        errors.EPCURIError,
    ):
        assert issubclass(cls, errors.GS1Error)
        assert cls.__name__ in (errors.__doc__ or "")
    assert issubclass(errors.GS1Error, errors.BadInputError)
    error = errors.CheckDigitError("01", "09506000134353", "2", "3")
    assert str(error) == "01: check digit 3 does not match the computed 2"
    assert (error.field, error.value) == ("01", "09506000134353")


def test_shipped_dictionary_matches_the_shared_copy() -> None:
    shared = SHARED_DATA / "gs1" / "ai_syntax_dictionary.json"
    data = resources.files("veriledger.core.gs1") / "data" / "ai_syntax_dictionary.json"
    shipped = json.loads(data.read_text(encoding="utf-8"))
    assert shipped == json.loads(shared.read_text())
    assert len(default_ai_table().entries) == shipped["count"] == 541


def test_every_linter_in_the_table_is_implemented_or_listed_as_unchecked() -> None:
    named = {
        linter
        for entry in default_ai_table().entries.values()
        for component in entry.components
        for linter in component.linters
    }
    assert named <= set(LINTERS) | CHECKSUM_LINTERS | UNCHECKED_LINTERS
    assert named - set(LINTERS) - CHECKSUM_LINTERS == UNCHECKED_LINTERS


def test_table_shape() -> None:
    table = default_ai_table()
    primary_keys = sorted(ai for ai, e in table.entries.items() if e.is_primary_key)
    assert primary_keys == sorted(
        ["00", "01", "253", "255", "401", "402", "414", "415", "417", "8003", "8004",
         "8006", "8010", "8013", "8017", "8018"]
    )  # fmt: skip
    assert ("01", "22", "10", "21") in table.path_sequences
    assert ("01", "10", "22") not in table.path_sequences

"""The Global Coupon Number (AI 255) against ../shared/data/gs1/gcn_coupon.json."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.shared_data import SHARED_DATA
from veriledger.core.errors import AICombinationError, CheckDigitError, GS1Error
from veriledger.core.gs1 import (
    GCN,
    build_digital_link,
    default_ai_table,
    parse_digital_link,
    parse_element_strings,
)

VECTORS: dict[str, Any] = json.loads((SHARED_DATA / "gs1" / "gcn_coupon.json").read_text())
CASES = VECTORS["cases"]


def test_vector_counts() -> None:
    assert len(CASES) == VECTORS["counts"]["cases"] == 11


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_gcn_vector(case: dict[str, Any]) -> None:
    if not case["valid"]:
        with pytest.raises(GS1Error):
            parse_element_strings(case["element_string_hri"])
        return
    elements = parse_element_strings(case["element_string_hri"])
    gcn = GCN.from_element_strings(elements)
    assert gcn.coupon + (gcn.serial or "") == gcn.value
    # A GCN is a Digital Link primary key without qualifiers.
    uri = build_digital_link(elements)
    assert uri.startswith(f"https://id.gs1.org/255/{gcn.value}")
    assert set(parse_digital_link(uri).element_strings) == set(elements)


def test_rule_matches_the_shipped_dictionary() -> None:
    entry_text = VECTORS["rule"]["syntax_dictionary_entry"]
    assert entry_text == "? N13,csum,gcppos1 [N..12] dlpkey ex=01,02,415,8006,8020,8026"
    entry = default_ai_table().entries["255"]
    assert [c.charset + str(c.max_length) for c in entry.components] == ["N13", "N12"]
    assert entry.components[1].optional
    assert entry.excludes == ("01", "02", "415", "8006", "8020", "8026")
    assert entry.dl_qualifiers == ((),)


def test_gcn_errors() -> None:
    with pytest.raises(CheckDigitError) as info:
        GCN("5412345000151")
    assert str(info.value) == "255: check digit 1 does not match the computed 0"
    with pytest.raises(AICombinationError, match=r"\(255\) needs its serial"):
        parse_element_strings("(255)1234567890128(8030)ABC123")
    assert GCN("5412345000150").serial is None
    assert GCN("5412345000150123").serial == "123"

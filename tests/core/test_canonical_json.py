"""The fast canonical JSON path is held byte-equal to the rfc8785 reference."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veriledger.core.canonical_json import canonical_json, canonical_json_reference
from veriledger.core.errors import CanonicalizationError

SAFE = 2**53 - 1

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-SAFE, SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=500)
@given(json_values)
def test_fast_path_equals_reference(value: Any) -> None:
    try:
        want = canonical_json_reference(value)
    except CanonicalizationError:
        with pytest.raises(CanonicalizationError):
            canonical_json(value)
        return
    assert canonical_json(value) == want


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        -0.0,
        1e21,
        1e-7,
        5e-324,
        {"\U0001f600": 1, "\uffff": 2},
        {"a": [1.5, {"b": 2.0}]},
        "\u2028\x7f\x00\x1f",
        SAFE,
        -SAFE,
    ],
)
def test_known_differences_take_the_reference_path(value: Any) -> None:
    assert canonical_json(value) == canonical_json_reference(value)


@pytest.mark.parametrize("value", [2**53, -(2**53), float("nan"), {1: 2}, "\ud800", object()])
def test_values_without_a_canonical_form(value: Any) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_json(value)


@pytest.mark.parametrize(
    "value",
    [{"a": "x,1.5"}, {"a": "[null"}, {"a": 'b":1.5'}, [None, 1], {"k": "\U0001f600"}, None, "1.5"],
)
def test_text_that_looks_like_floats_nulls_or_non_bmp_keys_stays_canonical(value: Any) -> None:
    assert canonical_json(value) == canonical_json_reference(value)

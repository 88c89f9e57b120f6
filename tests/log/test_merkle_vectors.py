"""Every file of the transparency-dev merkle test data, each ``wantErr`` case included."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.shared_data import TLOG
from veriledger.core.errors import VeriledgerError
from veriledger.log.verify import (
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)

MERKLE = TLOG / "merkle-testdata"


def _cases(kind: str) -> list[Path]:
    return sorted((MERKLE / kind).rglob("*.json"))


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(case: dict[str, Any]) -> list[bytes]:
    return [_b64(h) for h in case["proof"] or []]


def _run(kind: str, case: dict[str, Any]) -> None:
    if kind == "inclusion":
        verify_inclusion(
            case["leafIdx"],
            case["treeSize"],
            _b64(case["leafHash"]),
            _proof(case),
            _b64(case["root"]),
        )
    elif kind == "consistency":
        verify_consistency(
            case["size1"], case["size2"], _proof(case), _b64(case["root1"]), _b64(case["root2"])
        )
    elif kind == "subtreeinclusion":
        verify_subtree_inclusion(
            case["leafIdx"],
            case["start"],
            case["end"],
            _b64(case["leafHash"]),
            _proof(case),
            _b64(case["root"]),
        )
    else:
        verify_subtree_consistency(
            case["start"],
            case["end"],
            case["size"],
            _proof(case),
            _b64(case["root1"]),
            _b64(case["root2"]),
        )


KINDS = ["inclusion", "consistency", "subtreeinclusion", "subtreeconsistency"]
ALL = [(kind, path) for kind in KINDS for path in _cases(kind)]


def test_every_directory_has_cases() -> None:
    for kind in KINDS:
        assert len(_cases(kind)) > 20, kind
    assert len(ALL) == len(list(MERKLE.rglob("*.json")))


@pytest.mark.parametrize(("kind", "path"), ALL, ids=[str(p.relative_to(MERKLE)) for _, p in ALL])
def test_vector(kind: str, path: Path) -> None:
    case = json.loads(path.read_text())
    if case["wantErr"]:
        with pytest.raises(VeriledgerError):
            _run(kind, case)
    else:
        _run(kind, case)

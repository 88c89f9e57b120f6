"""``veriledger verify`` on proofs from an independent implementation, valid and tampered."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.interfaces.independent_tlog import World, b64, key
from veriledger.interfaces.cli import main

W = World()
GOOD = W.proof(5)


def _run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    proof: bytes,
    policy: bytes | None = None,
    entry: bytes | None = None,
) -> tuple[int, str, str]:
    (tmp_path / "p.tlog-proof").write_bytes(proof)
    (tmp_path / "policy").write_bytes(W.policy() if policy is None else policy)
    args = ["verify", str(tmp_path / "p.tlog-proof"), "--policy", str(tmp_path / "policy")]
    if entry is not None:
        (tmp_path / "entry").write_bytes(entry)
        args += ["--entry", str(tmp_path / "entry")]
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _swap_line(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _drop_sig(name: str) -> Callable[[bytes], bytes]:
    def drop(data: bytes) -> bytes:
        prefix = "\u2014 ".encode() + name.encode() + b" "
        return b"\n".join(line for line in _lines(data) if not line.startswith(prefix))

    return drop


def _flip_proof_hash(data: bytes) -> bytes:
    lines = _lines(data)
    raw = bytearray(base64.b64decode(lines[3]))
    raw[7] ^= 1
    lines[3] = b64(bytes(raw)).encode()
    return b"\n".join(lines)


def _reorder_proof(data: bytes) -> bytes:
    lines = _lines(data)
    lines[3], lines[4] = lines[4], lines[3]
    return b"\n".join(lines)


def _stale_cosignature(data: bytes) -> bytes:
    """A genuine alpha cosignature, but over the checkpoint of another size."""
    old = W.signed_checkpoint(["alpha"], size=20)
    stale = next(line for line in _lines(old) if line.startswith("\u2014 alpha".encode()))
    return b"\n".join(
        stale if line.startswith("\u2014 alpha".encode()) else line for line in _lines(data)
    )


def _duplicate_cosigner(data: bytes) -> bytes:
    """Two cosigners plus beta's line twice: one witness must count once."""
    data = _drop_sig("gamma.example/w")(data)
    beta = next(line for line in _lines(data) if line.startswith("\u2014 beta".encode()))
    return data.rstrip(b"\n") + b"\n" + beta + b"\n"


def _alter_timestamp(data: bytes) -> bytes:
    prefix = "\u2014 beta.example/w ".encode()
    line = next(line for line in _lines(data) if line.startswith(prefix))
    raw = bytearray(base64.b64decode(line[len(prefix) :]))
    raw[11] ^= 1  # last byte of the big-endian timestamp
    return data.replace(line, prefix + b64(bytes(raw)).encode())


def _impostor_log(data: bytes) -> bytes:
    impostor = key(W.origin, 1, "impostor")
    text = W.checkpoint_text()
    return _drop_sig(W.origin)(data).rstrip(b"\n") + b"\n" + impostor.signature_line(text).encode()


TAMPERED: dict[str, Callable[[bytes], bytes]] = {
    "extra changed": lambda d: _swap_line(
        d, b"extra " + b64(b"fact 5").encode(), b"extra " + b64(b"fact 6").encode()
    ),
    "index moved": lambda d: _swap_line(d, b"index 5\n", b"index 4\n"),
    "index beyond the tree": lambda d: _swap_line(d, b"index 5\n", b"index 21\n"),
    "index with leading zero": lambda d: _swap_line(d, b"index 5\n", b"index 05\n"),
    "proof hash bit flipped": _flip_proof_hash,
    "proof hashes reordered": _reorder_proof,
    "proof hash dropped": lambda d: b"\n".join(_lines(d)[:3] + _lines(d)[4:]),
    "proof hash added": lambda d: b"\n".join([*_lines(d)[:3], _lines(d)[3], *_lines(d)[3:]]),
    "proof hash not canonical base64": lambda d: b"\n".join(
        [*_lines(d)[:3], _lines(d)[3][:-2] + b"B=", *_lines(d)[4:]]
    ),
    "checkpoint size changed": lambda d: _swap_line(d, b"\n21\n", b"\n22\n"),
    "checkpoint origin changed": lambda d: _swap_line(
        d, b"\nindependent.example/log\n", b"\nindependent.example/other\n"
    ),
    "checkpoint root changed": lambda d: _swap_line(
        d, W.checkpoint_text().split(b"\n")[2], b64(b"\x00" * 32).encode()
    ),
    "extension line added after signing": lambda d: _swap_line(
        d, W.checkpoint_text(), W.checkpoint_text() + b"ext\n"
    ),
    "log signature removed": _drop_sig(W.origin),
    "log signature by an impostor key of the same name": _impostor_log,
    "quorum short by one": _drop_sig("gamma.example/w"),
    "no cosignatures": lambda d: _drop_sig("alpha.example/w")(
        _drop_sig("beta.example/w")(_drop_sig("gamma.example/w")(d))
    ),
    "cosignature timestamp altered": _alter_timestamp,
    "stale cosignature from another checkpoint": _stale_cosignature,
    "one witness counted twice": _duplicate_cosigner,
    "header changed": lambda d: _swap_line(d, b"tlog-proof@v1", b"tlog-proof@v2"),
    "no blank line before checkpoint": lambda d: d.replace(b"\n\n", b"\n", 1),
    "garbage after the signatures": lambda d: d + b"garbage\n",
    "checkpoint truncated": lambda d: d[: d.rindex(b"\xe2\x80\x94")],
    "checkpoint without final newline": lambda d: d.rstrip(b"\n"),
    "proof for an older tree under the new checkpoint": lambda d: W.proof(
        5, checkpoint=W.signed_checkpoint(), size=13
    ),
}


@pytest.mark.parametrize("name", list(TAMPERED))
def test_tampered_proofs_fail_with_one_clear_line(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered = TAMPERED[name](GOOD)
    assert tampered != GOOD
    code, out, err = _run(tmp_path, capsys, tampered)
    assert code != 0, out
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err


def test_valid_proof(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(tmp_path, capsys, GOOD)
    assert (code, err) == (0, "")
    assert out == (
        "OK: entry 5 is in independent.example/log at size 21, signed by "
        "independent.example/log; quorum orgs (3 of 4: alpha, beta, gamma, delta) "
        "satisfied by alpha, beta, gamma\n"
    )


@pytest.mark.parametrize("index", [0, 1, 15, 16, 20])
@pytest.mark.parametrize(
    "cosigners", [["delta", "alpha", "gamma"], ["alpha", "beta", "gamma", "delta"]]
)
def test_valid_proofs_at_every_shape(
    index: int, cosigners: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = W.proof(index, checkpoint=W.signed_checkpoint(cosigners))
    code, out, _ = _run(tmp_path, capsys, proof)
    assert code == 0
    assert f"entry {index} " in out


def test_single_entry_tree_has_an_empty_proof(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = W.proof(0, size=1)
    assert b"index 0\n\n" in proof
    assert _run(tmp_path, capsys, proof)[0] == 0


def test_unknown_signatures_are_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stranger = key("stranger.example/w", 4, "stranger")
    proof = GOOD + stranger.signature_line(W.checkpoint_text(), 5).encode()
    assert _run(tmp_path, capsys, proof)[0] == 0


def test_entry_out_of_band(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bare = W.proof(5, extra=False)
    assert _run(tmp_path, capsys, bare, entry=b"fact 5")[0] == 0
    code, _, err = _run(tmp_path, capsys, bare, entry=b"fact 6")
    assert code == 1 and "does not match" in err
    code, _, err = _run(tmp_path, capsys, bare)
    assert code == 1 and "no extra line" in err
    code, _, err = _run(tmp_path, capsys, GOOD, entry=b"fact 6")
    assert code == 1 and "differs" in err


def test_policies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tmp_path, capsys, GOOD, W.policy("any"))[0] == 0
    code, _, err = _run(tmp_path, capsys, GOOD, W.policy("all"))
    assert code == 1 and "quorum orgs (4 of 4" in err and "cosigned by alpha, beta, gamma" in err
    no_witness = f"log {W.log.vkey()}\nquorum none\n".encode()
    code, out, _ = _run(tmp_path, capsys, GOOD, no_witness)
    assert code == 0 and "quorum none satisfied by no cosigner needed" in out
    other_log = W.policy().replace(W.log.vkey().encode(), key(W.origin, 1, "x").vkey().encode())
    code, _, err = _run(tmp_path, capsys, GOOD, other_log)
    assert code == 1 and "not signed by a log of the policy" in err
    renamed = key("another.example/log", 1, "log")
    code, _, err = _run(
        tmp_path, capsys, GOOD, W.policy().replace(W.log.vkey().encode(), renamed.vkey().encode())
    )
    assert code == 1 and "not signed by a log" in err
    code, _, err = _run(tmp_path, capsys, GOOD, W.policy().replace(b"quorum orgs", b"quorum x"))
    assert code == 2 and "policy line" in err


def test_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["verify", str(tmp_path / "missing"), "--policy", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: cannot read policy")


@pytest.mark.slow
def test_console_script_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "good.tlog-proof").write_bytes(GOOD)
    (tmp_path / "bad.tlog-proof").write_bytes(TAMPERED["quorum short by one"](GOOD))
    (tmp_path / "policy").write_bytes(W.policy())
    exe = Path(sys.executable).parent / "veriledger"
    good = subprocess.run(
        [exe, "verify", tmp_path / "good.tlog-proof", "--policy", tmp_path / "policy"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert good.returncode == 0 and good.stdout.startswith("OK: entry 5 ")
    bad = subprocess.run(
        [exe, "verify", tmp_path / "bad.tlog-proof", "--policy", tmp_path / "policy"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: quorum orgs (3 of 4")
    assert "Traceback" not in bad.stderr

"""``veriledger keys`` against a temporary keystore, and smoke runs of the benchmarks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from veriledger.core.keys import VerifierKey
from veriledger.core.keystore import Keystore
from veriledger.interfaces.cli import main


def test_generate_prints_a_vkey_and_writes_a_private_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ks = tmp_path / "ks"
    assert main(["keys", "generate", "--name", "brand.example/log", "--keystore", str(ks)]) == 0
    out, err = capsys.readouterr()
    vkey = VerifierKey.parse(out.strip())
    assert vkey.name == "brand.example/log"
    assert vkey.sig_type == 0x01
    assert "wrote" in err
    assert stat.S_IMODE(os.stat(ks).st_mode) == 0o700
    assert Keystore(ks).load("brand.example/log").verifier() == vkey


def test_cosigner_keys_have_type_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ks = str(tmp_path)
    assert (
        main(["keys", "generate", "--name", "customs.example", "--cosigner", "--keystore", ks]) == 0
    )
    assert VerifierKey.parse(capsys.readouterr().out.strip()).sig_type == 0x04
    assert main(["keys", "show", "customs.example", "--keystore", ks]) == 0
    assert capsys.readouterr().out.startswith("customs.example+")


def test_encrypted_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERILEDGER_PASSPHRASE", "hunter2")
    assert main(["keys", "generate", "--name", "k", "--encrypt", "--keystore", str(tmp_path)]) == 0
    capsys.readouterr()
    assert Keystore(tmp_path).is_encrypted("k")
    assert main(["keys", "list", "--keystore", str(tmp_path)]) == 0
    assert "yes" in capsys.readouterr().out


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ks = str(tmp_path)
    assert main(["keys", "generate", "--name", "a", "--keystore", ks]) == 0
    assert main(["keys", "generate", "--name", "a", "--keystore", ks]) == 1
    assert capsys.readouterr().err.endswith("already exists in " + ks + "\n")
    assert main(["keys", "generate", "--name", "bad name", "--keystore", ks]) == 2
    assert capsys.readouterr().err == "error: invalid key name 'bad name'\n"
    assert main(["keys", "show", "nobody", "--keystore", ks]) == 1
    assert "no key named 'nobody'" in capsys.readouterr().err


def test_bench_log_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "log", "--size", "600", "--seconds", "0.01", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| what | figure | ratio to baseline |")
    assert "of 2-hash SHA-256" in out
    assert "inclusion proof from tiles at 600" in out
    assert "of raw verify" in out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "rows", "cpu_row"),
    [
        (
            ["ingest", "--count", "300", "--batch", "100", "--seconds", "0.01"],
            ["| in-process ingest, batches of 100 |", "| HTTP ingest, signed batches of 100 |"],
            "| CPU per transaction",
        ),
        (
            ["trace", "--events", "3000", "--capture", "2000", "--lot-items", "500"],
            [
                "| EPCIS capture, documents of 1,000 events, 2 clients |",
                "| recall report of a lot of 500 items |",
            ],
            "| CPU per captured event",
        ),
    ],
)
def test_bench_smoke(
    capsys: pytest.CaptureFixture[str], args: list[str], rows: list[str], cpu_row: str
) -> None:
    assert main(["bench", *args, "--markdown"]) == 0
    out = capsys.readouterr().out
    assert all(row in out for row in rows)
    cpu = next(line for line in out.splitlines() if line.startswith(cpu_row))
    node_us, worker_us = (int(part.split()[0]) for part in cpu.split("|")[2].split("/"))
    assert node_us > 0 and worker_us > 0  # the node's process and its workers both worked

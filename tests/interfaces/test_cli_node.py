"""``veriledger init | serve | submit | proof | verify-ledger`` and the SDK's offline verifier."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.interfaces.live_server import free_port
from veriledger.core.errors import VerificationError
from veriledger.interfaces.cli import main
from veriledger.node.node import Node
from veriledger.sdk import verify_receipt


def test_init_creates_a_consortium(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "n"
    code = main(
        [
            "init",
            "--data-dir",
            str(data),
            "--chain",
            "ledger.example/cli",
            "--org",
            "brand:brand:Aurora Apparel",
            "--org",
            "port:customs:Port Customs",
            "--org",
            "shop:retailer:Shop",
            "--org",
            "carrier:logistics:Carrier",
        ]
    )
    assert code == 0
    assert "4 organisations, quorum 3" in capsys.readouterr().out
    creds = orjson.loads((data / "credentials.json").read_bytes())
    assert set(creds) == {"brand", "port", "shop", "carrier"}
    assert (data / "credentials.json").stat().st_mode & 0o077 == 0
    node = Node(data, signature_workers=0)
    assert node.height == 0
    node.close()
    assert main(["verify-ledger", "--data-dir", str(data)]) == 0
    assert capsys.readouterr().out.startswith("OK: 2 entries, 1 blocks")
    assert (
        main(["init", "--data-dir", str(data), "--chain", "x.example/y", "--org", "a:brand:A"]) == 1
    )
    assert "already holds a ledger" in capsys.readouterr().err
    assert (
        main(
            [
                "init",
                "--data-dir",
                str(tmp_path / "m"),
                "--chain",
                "x.example/y",
                "--org",
                "a:spaceship:A",
            ]
        )
        == 2
    )
    assert "unknown kind" in capsys.readouterr().err


def test_submit_proof_and_verify_round_trip(
    demo_url: str, demo_node: Node, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    creds = orjson.loads((demo_node.data_dir / "credentials.json").read_bytes())
    digest = hashlib.sha256(os.urandom(8)).hexdigest()
    body = orjson.dumps({"digest": digest, "kind": "invoice"}).decode()
    assert (
        main(
            [
                "submit",
                "--url",
                demo_url,
                "--token",
                creds["citymart"]["citymart/ivan"],
                "--type",
                "notary.attest",
                "--body",
                body,
            ]
        )
        == 0
    )
    result = orjson.loads(capsys.readouterr().out)
    assert result["status"] == "committed"
    receipt, policy = tmp_path / "r.tlog-proof", tmp_path / "p.policy"
    assert (
        main(
            [
                "proof",
                result["id"],
                "--url",
                demo_url,
                "-o",
                str(receipt),
                "--policy-out",
                str(policy),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["verify", str(receipt), "--policy", str(policy)]) == 0
    assert f"OK: entry {result['index']} " in capsys.readouterr().out
    # Signing locally with a keystore key instead of a token.
    body2 = orjson.dumps({"digest": hashlib.sha256(os.urandom(8)).hexdigest(), "kind": "x"})
    (tmp_path / "body.json").write_bytes(body2)
    assert (
        main(
            [
                "submit",
                "--url",
                demo_url,
                "--key",
                "aurora/ben",
                "--keystore",
                str(demo_node.data_dir / "keys"),
                "--type",
                "notary.attest",
                "--body",
                f"@{tmp_path / 'body.json'}",
            ]
        )
        == 0
    )
    assert orjson.loads(capsys.readouterr().out)["status"] == "committed"
    assert main(["submit", "--url", demo_url, "--type", "notary.attest", "--body", "{}"]) == 1
    assert "HTTP 401" in capsys.readouterr().err


@pytest.mark.parametrize("receipt", [b"", b"garbage", b"c2sp.org/tlog-proof@v1\nindex 0\n\nx\n"])
def test_sdk_verifier_raises_only_verification_errors(demo_node: Node, receipt: bytes) -> None:
    with pytest.raises(VerificationError):
        verify_receipt(receipt, demo_node.policy.to_text())
    with pytest.raises(VerificationError):
        verify_receipt(demo_node.receipt_for_index(3).to_bytes(), b"not a policy")


@pytest.mark.slow
def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """A service manager stops the node with SIGTERM: it shuts down as on Ctrl-C, closing
    the node (its worker processes and their queues included), and exits 0."""
    data = tmp_path / "n"
    assert main(["init", "--data-dir", str(data), "--chain", "ledger.example/stop",
                 "--org", "brand:brand:Aurora"]) == 0  # fmt: skip
    port = free_port()
    exe = Path(sys.executable).parent / "veriledger"
    server = subprocess.Popen(
        [exe, "serve", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(400):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    finally:
        server.kill()
    assert server.returncode == 0
    assert b"leaked" not in err and b"Traceback" not in err, err.decode()

"""A ``veriledger serve`` process for the HTTP benchmarks, started and waited for."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

START_SECONDS = 60.0
"""A node checks its ledger's head before it serves; on a loaded machine that can take a while."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start a node on a free loopback port; returns the process and its base URL.

    Raises:
        RuntimeError: the node exited or did not answer ``/healthz`` in time (with
            what it printed).
    """
    port = free_port()
    exe = Path(sys.executable).parent / "veriledger"
    server = subprocess.Popen(  # noqa: S603 (our own console script)
        [exe, "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.05)
    server.kill()
    _, err = server.communicate()
    raise RuntimeError(f"the node did not start: {err.decode(errors='replace').strip()}")

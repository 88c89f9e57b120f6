"""Where the official vectors live: ``../shared/data`` beside the checkout.

A clone made elsewhere (a fresh temporary directory, as CI may use) finds them beside
the repository it was cloned from; ``VERILEDGER_SHARED_DATA`` overrides both.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _origin_shared() -> Path | None:
    try:
        url = subprocess.run(
            ["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return None
    origin = Path(url.removeprefix("file://"))
    return origin.resolve().parent / "shared" / "data" if url and origin.is_dir() else None


def _shared_data() -> Path:
    if "VERILEDGER_SHARED_DATA" in os.environ:
        return Path(os.environ["VERILEDGER_SHARED_DATA"])
    beside = ROOT.parent / "shared" / "data"
    if beside.is_dir():
        return beside
    return _origin_shared() or beside


SHARED_DATA = _shared_data()
TLOG = SHARED_DATA / "tlog"

"""Where the official vectors live: ``../shared/data`` beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA = Path(
    os.environ.get(
        "VERILEDGER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
TLOG = SHARED_DATA / "tlog"

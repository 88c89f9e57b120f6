"""Which requests get gzip: the Accept-Encoding header and its q-values."""

from __future__ import annotations

import pytest
from starlette.requests import HTTPConnection

from veriledger.interfaces.http.compression import accepts_gzip


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        ("gzip", True),
        ("deflate, GZIP;q=0.5", True),
        ("br;q=1.0, gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("gzip;q=x", False),
        ("identity", False),
        ("", False),
        ("x-gzip-like", False),
    ],
)
def test_gzip_only_when_accepted_with_a_positive_q_value(header: str, gzip: bool) -> None:
    scope = {"type": "http", "headers": [(b"accept-encoding", header.encode())]}
    assert accepts_gzip(HTTPConnection(scope)) is gzip

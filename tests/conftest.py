"""Test-wide settings: hypothesis without wall-clock deadlines (machines are shared)."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


# --- a seeded demo node, shared read-only by the tests that only look -----------------------

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def demo_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from veriledger.node.demo import create_demo, seed_demo
    from veriledger.node.node import Node

    path: Path = tmp_path_factory.mktemp("demo")
    create_demo(path, block_max_ms=20)
    node = Node(path, signature_workers=0)
    seed_demo(node, rounds=4)
    yield node
    node.close()


@pytest.fixture(scope="session")
def demo_url(demo_node: object) -> Iterator[str]:
    from tests.interfaces.live_server import serve
    from veriledger.interfaces.http.app import create_app

    with serve(create_app(demo_node)) as url:  # type: ignore[arg-type]
        yield url

"""SQLite state reads: one query for many prefixes reads what one scan each would."""

from __future__ import annotations

from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from veriledger.chain.storage import SqliteState, Storage

KEYS = st.text(alphabet="ab/é\U0001f600", min_size=1, max_size=5)


@settings(max_examples=40, deadline=None)
@given(keys=st.sets(KEYS, max_size=20), prefixes=st.lists(KEYS, max_size=6, unique=True))
def test_scan_many_equals_a_scan_per_prefix(
    tmp_path_factory: object, keys: set[str], prefixes: list[str]
) -> None:
    path = Path(tmp_path_factory.mktemp("s")) / "s.sqlite"  # type: ignore[attr-defined]
    storage = Storage(path)
    try:
        with storage.block_transaction() as db:
            db.executemany(
                "INSERT INTO state VALUES (?, ?)", [(k, orjson.dumps({"k": k})) for k in keys]
            )
        state = SqliteState(storage.reader())
        assert state.scan_many(prefixes) == {p: list(state.scan(p)) for p in prefixes}
    finally:
        storage.close()

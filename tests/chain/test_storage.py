"""SQLite state reads: one query for many prefixes reads what one scan each would."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veriledger.chain.storage import FORMAT, SqliteState, Storage
from veriledger.core.errors import StorageError

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


@pytest.mark.parametrize("found", [None, b"1"])
def test_a_ledger_in_another_format_is_refused_not_misread(
    tmp_path: Path, found: bytes | None
) -> None:
    path = tmp_path / "ledger.sqlite"
    Storage(path).close()  # a new ledger takes this format
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO blocks VALUES (1, 'id', 1, 0, 0, 0, x'00')")
        if found is None:
            conn.execute("DELETE FROM meta WHERE key = 'format'")
        else:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'format'", (found,))
    conn.close()
    with pytest.raises(StorageError, match="other state roots"):
        Storage(path)


def test_an_empty_ledger_takes_this_format_and_opens_again(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Storage(path).close()
    storage = Storage(path)
    assert storage.get_meta("format", storage.writer) == FORMAT
    storage.close()

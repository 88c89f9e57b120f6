"""A C2SP tlog client written from the specs alone, against the demo node.

It imports nothing from veriledger: it knows only ``/tlog/keys``, fetches the
checkpoint, tiles and entry bundles over HTTP, recomputes the root, verifies the
log signature and the cosignatures, and verifies a receipt against ``/tlog/policy``.
"""

from __future__ import annotations

import base64
import hashlib
import struct

import httpx
import nacl.exceptions
import nacl.signing

from tests.interfaces.independent_tlog import mth


def _vkey(line: str) -> tuple[str, bytes, int, bytes]:
    name, key_id, material = line.split("+", 2)
    raw = base64.b64decode(material)
    assert hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == key_id
    return name, bytes.fromhex(key_id), raw[0], raw[1:]


def _ed25519(public: bytes, message: bytes, sig: bytes) -> bool:
    try:
        nacl.signing.VerifyKey(public).verify(message, sig)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def _open_checkpoint(
    note: bytes, keys: list[tuple[str, bytes, int, bytes]]
) -> tuple[bytes, set[str]]:
    text, _, sigs = note.decode().rpartition("\n\n")
    text += "\n"
    verified = set()
    for line in sigs.splitlines():
        assert line.startswith("\u2014 ")
        name, b64 = line[2:].split(" ")
        raw = base64.b64decode(b64)
        for key_name, key_id, kind, public in keys:
            if key_name != name or raw[:4] != key_id:
                continue
            if kind == 1:
                assert _ed25519(public, text.encode(), raw[4:])
            else:
                (ts,) = struct.unpack(">Q", raw[4:12])
                message = b"cosignature/v1\ntime %d\n" % ts + text.encode()
                assert _ed25519(public, message, raw[12:])
            verified.add(name)
    return text.encode(), verified


def _index_path(n: int) -> str:
    parts = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        parts.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(parts))


def _bundle(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        out.append(data[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return out


def _inclusion_root(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2, as written there."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        assert sn != 0
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    assert sn == 0
    return r


def test_client_from_the_specs(demo_url: str) -> None:
    keys = [_vkey(line) for line in httpx.get(f"{demo_url}/tlog/keys").text.splitlines()]
    log_name = next(k[0] for k in keys if k[2] == 1)
    note = httpx.get(f"{demo_url}/tlog/checkpoint").content
    text, signers = _open_checkpoint(note, keys)
    origin, size_line, root_b64 = text.decode().splitlines()[:3]
    assert origin == log_name and log_name in signers
    assert len(signers - {log_name}) >= 4  # organisations that cosigned
    size, root = int(size_line), base64.b64decode(root_b64)

    leaves: list[bytes] = []
    for n in range((size + 255) // 256):
        width = min(256, size - n * 256)
        suffix = "" if width == 256 else f".p/{width}"
        tile = httpx.get(f"{demo_url}/tlog/tile/0/{_index_path(n)}{suffix}")
        bundle = httpx.get(f"{demo_url}/tlog/tile/entries/{_index_path(n)}{suffix}")
        assert tile.headers["content-type"] == "application/octet-stream"
        hashes = [tile.content[i : i + 32] for i in range(0, len(tile.content), 32)]
        entries = _bundle(bundle.content)
        assert len(hashes) == len(entries) == width
        for entry, leaf in zip(entries, hashes, strict=True):
            assert hashlib.sha256(b"\x00" + entry).digest() == leaf
        leaves += hashes
    assert mth(leaves) == root

    # A receipt, verified against the policy file with nothing but the specs.
    block = httpx.get(f"{demo_url}/api/v1/blocks/2").json()
    tx_id = block["transactions"][0]["id"]
    receipt = httpx.get(f"{demo_url}/api/v1/transactions/{tx_id}/receipt")
    assert receipt.headers["content-type"] == "application/tlog-proof"
    head, _, proof_note = receipt.content.partition(b"\n\n")
    lines = head.decode().splitlines()
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    entry = base64.b64decode(lines[1].removeprefix("extra "))
    index = int(lines[2].removeprefix("index "))
    proof = [base64.b64decode(x) for x in lines[3:]]
    assert hashlib.sha256(entry).hexdigest() == tx_id

    policy = httpx.get(f"{demo_url}/tlog/policy").text.splitlines()
    policy_keys = [_vkey(line.split()[1]) for line in policy if line.startswith("log ")]
    witnesses = {
        line.split()[1]: _vkey(line.split()[2]) for line in policy if line.startswith("witness ")
    }
    group = next(line.split() for line in policy if line.startswith("group "))
    threshold = len(group) - 3 if group[2] == "all" else int(group[2])
    cp_text, cp_signers = _open_checkpoint(proof_note, policy_keys + list(witnesses.values()))
    cp_origin, cp_size, cp_root = cp_text.decode().splitlines()[:3]
    assert cp_origin in cp_signers
    cosigned = [w for w, key in witnesses.items() if key[0] in cp_signers and w in group[3:]]
    assert len(cosigned) >= threshold
    leaf = hashlib.sha256(b"\x00" + entry).digest()
    assert _inclusion_root(index, int(cp_size), leaf, proof) == base64.b64decode(cp_root)

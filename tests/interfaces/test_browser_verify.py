"""The browser verifier (web/static/tlog-verify.js) in a real Chromium, against Python.

Receipts are built with the real package (and one with the independent writer), served
with the module and a small test page from a loopback HTTP server (ES modules and
WebCrypto need http on 127.0.0.1, not file://), and verified in headless Chromium with
WebCrypto's Ed25519 and SHA-256. Every case is also run through
:func:`verify_tlog_proof`, and the two must agree on whether it passes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import veriledger.interfaces
from tests.interfaces.browser import chromium
from tests.interfaces.independent_tlog import World, audit_path, mth
from tests.log.consortium import ORGS, Consortium, make_consortium
from veriledger.core.errors import VeriledgerError
from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SignerKey, VerifierKey
from veriledger.log.checkpoint import Checkpoint
from veriledger.log.cosignature import CosignatureSigner
from veriledger.log.hashing import leaf_hash
from veriledger.log.note import Ed25519NoteSigner, parse_note, sign_note
from veriledger.log.policy import Group, Policy, PolicyLog, Witness
from veriledger.log.tlog_proof import TlogProof, verify_tlog_proof

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.slow

STATIC = Path(veriledger.interfaces.__file__).parent / "web" / "static"
CONSORTIUM = make_consortium()
"""Built once at import: the tampered cases below are derived from it to name the tests."""

TEST_PAGE = b"""<!doctype html>
<meta charset="utf-8">
<title>tlog-verify test page</title>
<script type="module">
import * as tlog from "/tlog-verify.js";

const fixture = async (name) => name === null ? null
  : new Uint8Array(await (await fetch("/__fixtures__/" + name)).arrayBuffer());
const plainInt = (n) => ({ type: typeof n, value: String(n) });

window.tlog = tlog;
window.b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
window.verify = async (proofName, policyName, entryName, asText) => {
  try {
    let [proof, policy, entry] = await Promise.all(
      [proofName, policyName, entryName].map(fixture));
    if (asText) [proof, policy] = [proof, policy].map((b) => new TextDecoder().decode(b));
    const r = await tlog.verifyReceipt(proof, policy, entry);
    return {
      ok: true, index: plainInt(r.index), size: plainInt(r.size), origin: r.origin, log: r.log,
      cosigners: r.cosigners, quorum: r.quorum, entry: Array.from(r.entry),
      times: Object.fromEntries(
        Object.entries(r.cosignatureTimes).map(([k, v]) => [k, plainInt(v)])),
    };
  } catch (error) {
    return { ok: false, error: String(error?.message ?? error) };
  }
};
window.ready = true;
</script>
"""


# --- server and browser ------------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    """The static directory at /, plus the test page and in-memory fixtures."""

    def __init__(self, *args: Any, fixtures: dict[str, bytes], **kwargs: Any) -> None:
        self.fixtures = fixtures
        super().__init__(*args, directory=str(STATIC), **kwargs)

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path == "/__test__.html":
            self._send(TEST_PAGE, "text/html; charset=utf-8")
        elif path.startswith("/__fixtures__/"):
            body = self.fixtures.get(path.removeprefix("/__fixtures__/"))
            if body is None:
                self.send_error(404)
            else:
                self._send(body, "application/octet-stream")
        else:
            super().do_GET()

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server:
    def __init__(self) -> None:
        self.fixtures: dict[str, bytes] = {}
        handler = functools.partial(_Handler, fixtures=self.fixtures)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        host, port = self.httpd.server_address[:2]
        self.url = f"http://{host}:{port}"

    def add(self, data: bytes) -> str:
        name = hashlib.sha256(data).hexdigest()
        self.fixtures[name] = data
        return name


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join(timeout=5)


@pytest.fixture(scope="module")
def page(server: Server) -> Iterator[Any]:
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server.url}/__test__.html")
        page.wait_for_function("window.ready === true", timeout=10_000)
        assert not errors, errors
        yield page


# --- helpers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def consortium() -> Consortium:
    return CONSORTIUM


def js_verify(
    page: Any,
    server: Server,
    proof: bytes,
    policy: bytes,
    entry: bytes | None = None,
    as_text: bool = False,
) -> dict[str, Any]:
    names = [server.add(proof), server.add(policy), None if entry is None else server.add(entry)]
    return page.evaluate("([p, q, e, t]) => window.verify(p, q, e, t)", [*names, as_text])


def py_verify(proof: bytes, policy: bytes, entry: bytes | None = None) -> Any:
    """The Python verdict: a ProofVerification, or the error it raised."""
    try:
        return verify_tlog_proof(TlogProof.parse(proof), Policy.parse(policy), entry)
    except VeriledgerError as exc:
        return exc


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def assert_same_result(js: dict[str, Any], py: Any, policy: bytes) -> None:
    assert js["ok"], js["error"]
    assert not isinstance(py, Exception), py
    result = py.policy
    assert js["index"] == {"type": "number", "value": str(py.index)}
    assert js["size"] == {"type": "number", "value": str(result.checkpoint.size)}
    assert js["origin"] == result.checkpoint.origin
    assert js["log"] == result.log
    assert js["cosigners"] == list(result.cosigners)
    assert js["quorum"] == Policy.parse(policy).describe_quorum()
    assert bytes(js["entry"]) == py.entry
    by_key = {c.name: c.timestamp for c in result.cosignatures}
    witnesses = {w.name: w.key.name for w in Policy.parse(policy).witnesses}
    assert js["times"] == {
        name: {"type": "number", "value": str(by_key[witnesses[name]])} for name in result.cosigners
    }


def non_canonical(value: bytes) -> str:
    """Base64 of a 32-byte value with its two unused bits set: it decodes, but is not canonical."""
    text = b64(value)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return text[:-2] + alphabet[alphabet.index(text[-2]) + 1] + "="


def key_ref(key: SignerKey) -> str:
    return f"{key.name}+{key.key_id:08x}"


def replace_line(data: bytes, old: bytes, new: bytes) -> bytes:
    lines = data.split(b"\n")
    assert lines.count(old) == 1, (old, lines)
    lines[lines.index(old)] = new
    return b"\n".join(lines)


def retime_cosignature(note: bytes, key_name: str, timestamp: int) -> bytes:
    """Rewrite one cosignature's timestamp without re-signing (a tampered time)."""
    lines = note.split(b"\n")
    prefix = f"\u2014 {key_name} ".encode()
    (i,) = [n for n, line in enumerate(lines) if line.startswith(prefix)]
    raw = base64.b64decode(lines[i][len(prefix) :])
    raw = raw[:4] + timestamp.to_bytes(8, "big") + raw[12:]
    lines[i] = prefix + b64(raw).encode()
    return b"\n".join(lines)


# --- valid receipts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "cosigners"),
    [(123, None), (0, ORGS), (299, ["carrier", "customs", "retailer"]), (256, ORGS[1:])],
)
def test_valid_receipts_verify_like_python(
    page: Any, server: Server, consortium: Consortium, index: int, cosigners: list[str] | None
) -> None:
    proof = consortium.proof(index, cosigners).to_bytes()
    policy = consortium.policy.to_text()
    js = js_verify(page, server, proof, policy)
    assert_same_result(js, py_verify(proof, policy), policy)
    assert js["quorum"] == "consortium (3 of 4: brand, carrier, customs, retailer)"
    assert bytes(js["entry"]) == consortium.entries[index]


def test_text_input_verifies_too(page: Any, server: Server, consortium: Consortium) -> None:
    proof = consortium.proof(7).to_bytes()
    policy = consortium.policy.to_text()
    js = js_verify(page, server, proof, policy, as_text=True)
    assert_same_result(js, py_verify(proof, policy), policy)


def test_entry_out_of_band(page: Any, server: Server, consortium: Consortium) -> None:
    policy = consortium.policy.to_text()
    entry = consortium.entries[42]
    bare = consortium.proof(42, extra=False).to_bytes()
    assert b"\nextra " not in bare
    js = js_verify(page, server, bare, policy, entry)
    assert_same_result(js, py_verify(bare, policy, entry), policy)
    # Both present and equal is fine as well.
    with_extra = consortium.proof(42).to_bytes()
    js = js_verify(page, server, with_extra, policy, entry)
    assert_same_result(js, py_verify(with_extra, policy, entry), policy)


def test_independent_writer_receipt(page: Any, server: Server) -> None:
    world = World()
    proof, policy = world.proof(5), world.policy()
    js = js_verify(page, server, proof, policy)
    assert_same_result(js, py_verify(proof, policy), policy)
    assert js["origin"] == "independent.example/log"
    assert js["cosigners"] == ["alpha", "beta", "gamma"]
    assert js["quorum"] == "orgs (3 of 4: alpha, beta, gamma, delta)"


def test_unknown_signer_is_ignored(page: Any, server: Server, consortium: Consortium) -> None:
    good = consortium.proof(9)
    stranger = SignerKey("stranger.example/w", 0x01, b"\x42" * 32)
    text = parse_note(good.checkpoint).text
    line = (
        f"\u2014 {stranger.name} {b64(stranger.key_id.to_bytes(4, 'big') + stranger.sign(text))}\n"
    )
    proof = replace(good, checkpoint=good.checkpoint + line.encode()).to_bytes()
    policy = consortium.policy.to_text()
    js = js_verify(page, server, proof, policy)
    assert_same_result(js, py_verify(proof, policy), policy)


def test_policy_names_are_opaque_octets(page: Any, server: Server, consortium: Consortium) -> None:
    """0xFF and 0xFE are two different names, though neither is UTF-8 (tlog-policy)."""
    policy = consortium.policy.to_text()
    policy = policy.replace(b"witness brand ", b"witness \xff ").replace(b" brand ", b" \xff ")
    policy = policy.replace(b"witness carrier ", b"witness \xfe ").replace(b" carrier ", b" \xfe ")
    proof = consortium.proof(11).to_bytes()
    py = py_verify(proof, policy)
    assert not isinstance(py, Exception), py
    js = js_verify(page, server, proof, policy)
    assert js["ok"], js
    assert js["cosigners"][2:] == ["customs"]
    assert [len(name) for name in js["cosigners"]] == [1, 1, 7]
    assert js["cosigners"][0] != js["cosigners"][1]


# --- nested quorum ----------------------------------------------------------------------------


def _nested_policy(consortium: Consortium) -> bytes:
    lines = [f"log {consortium.log_key.verifier().to_vkey()}"]
    lines += [
        f"\twitness  {org} {consortium.witnesses[org].verifier().to_vkey()}  " for org in ORGS
    ]
    lines += [
        "  # two makers and either checker",
        "group makers all brand carrier",
        "group checkers any customs retailer",
        "group both 2 makers checkers",
        "quorum both",
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    ("cosigners", "ok"),
    [
        (["brand", "carrier", "retailer"], True),
        (["brand", "carrier", "customs", "retailer"], True),
        (["brand", "customs", "retailer"], False),
        (["brand", "carrier"], False),
    ],
)
def test_nested_groups(
    page: Any, server: Server, consortium: Consortium, cosigners: list[str], ok: bool
) -> None:
    policy = _nested_policy(consortium)
    proof = consortium.proof(3, cosigners).to_bytes()
    js = js_verify(page, server, proof, policy)
    py = py_verify(proof, policy)
    assert js["ok"] == ok, js
    assert isinstance(py, Exception) != ok, py
    if ok:
        assert_same_result(js, py, policy)
        assert js["quorum"] == "both (2 of 2: makers, checkers)"
    else:
        assert js["error"].startswith("quorum both (2 of 2: makers, checkers) not met"), js


# --- tampered receipts ------------------------------------------------------------------------


def other_origin(c: Consortium) -> bytes:
    """The consortium's own keys signing a checkpoint that names another origin."""
    text = Checkpoint("mirror.example/demo", c.log.flushed_size, c.log.root_at(300)).to_text()
    signers = [Ed25519NoteSigner(c.log_key)]
    signers += [CosignatureSigner(c.witnesses[n], clock=lambda: 1_790_000_000) for n in ORGS]
    return sign_note(text, signers)


FORGER = VerifierKey("forger.example/w", SIG_TYPE_COSIGNATURE_V1, (1).to_bytes(32, "little"))
"""The identity point as a witness key: anyone can "sign" for it with R = identity, S = 0."""


def forger_policy(c: Consortium) -> bytes:
    witnesses = (*c.policy.witnesses[:3], Witness("forger", FORGER))
    group = Group("consortium", 3, (*ORGS[:3], "forger"))
    return replace(c.policy, witnesses=witnesses, groups=(group,)).to_text()


ED25519_P = 2**255 - 19
BASE_POINT = (4 * pow(5, -1, ED25519_P) % ED25519_P).to_bytes(32, "little")


def forged_cosignature(note: bytes, r: bytes = (1).to_bytes(32, "little"), s: int = 0) -> bytes:
    """``note`` plus a cosignature for FORGER made without any private key.

    With the identity as the key, [s]B = R + [k]A holds for R = [s]B whatever the
    message: (identity, 0) and (B, 1) both pass a verifier that admits the key.
    """
    raw = FORGER.key_id.to_bytes(4, "big") + (1_790_000_000).to_bytes(8, "big")
    raw += r + s.to_bytes(32, "little")
    return note + f"\u2014 {FORGER.name} {b64(raw)}\n".encode()


def _cases(c: Consortium) -> dict[str, tuple[bytes, bytes, bytes | None, str]]:
    """name -> (proof, policy, entry given, regex the browser's message must match)."""
    policy = c.policy.to_text()
    good = c.proof(123)
    note = good.checkpoint
    flipped = list(good.inclusion)
    flipped[2] = bytes([flipped[2][0] ^ 1]) + flipped[2][1:]
    two = c.checkpoint(["brand", "carrier"])
    stale_line = parse_note(c.checkpoint(["retailer"], size=299)).signatures[1].line()
    other_log = SignerKey(c.log_key.name, 0x01, b"\x99" * 32).verifier()
    wrong_log_policy = replace(c.policy, logs=(PolicyLog(other_log),)).to_text()
    return {
        "extra changed": (
            replace(good, extra=b'{"fact":999}').to_bytes(),
            policy,
            None,
            r"^inclusion proof of entry 123 in the checkpoint of size 300 fails: "
            r"calculated root [0-9a-f]{64} does not match checkpoint root [0-9a-f]{64}$",
        ),
        "index changed": (
            replace(good, index=122).to_bytes(),
            policy,
            None,
            r"^inclusion proof of entry 122 .*does not match checkpoint root",
        ),
        "index beyond the tree": (
            replace(good, index=300).to_bytes(),
            policy,
            None,
            r"index 300 is not in a tree of size 300",
        ),
        "proof hash flipped": (
            replace(good, inclusion=tuple(flipped)).to_bytes(),
            policy,
            None,
            r"does not match checkpoint root",
        ),
        "proof hash dropped": (
            replace(good, inclusion=good.inclusion[:-1]).to_bytes(),
            policy,
            None,
            r"fails: wrong proof size 8, want 9$",
        ),
        "proof hash added": (
            replace(good, inclusion=(*good.inclusion, good.inclusion[0])).to_bytes(),
            policy,
            None,
            r"fails: wrong proof size 10, want 9$",
        ),
        "checkpoint size changed": (
            replace(good, checkpoint=replace_line(note, b"300", b"299")).to_bytes(),
            policy,
            None,
            rf"^signature by known key {re.escape(key_ref(c.log_key))} does not verify$",
        ),
        "cosignature removed below quorum": (
            replace(good, checkpoint=note.rsplit(b"\n", 2)[0] + b"\n").to_bytes(),
            policy,
            None,
            r"^quorum consortium \(3 of 4: brand, carrier, customs, retailer\) not met: "
            r"cosigned by brand, carrier$",
        ),
        "only the log signed": (
            c.proof(123, cosigners=[]).to_bytes(),
            policy,
            None,
            r"not met: cosigned by no witness$",
        ),
        "stale cosignature from another checkpoint": (
            replace(good, checkpoint=two + stale_line.encode()).to_bytes(),
            policy,
            None,
            r"^signature by known key retailer\.example/cosigner\+[0-9a-f]{8} does not verify$",
        ),
        "cosignature timestamp tampered": (
            replace(
                good,
                checkpoint=retime_cosignature(note, "carrier.example/cosigner", 1_790_000_001),
            ).to_bytes(),
            policy,
            None,
            rf"^signature by known key {re.escape(key_ref(c.witnesses['carrier']))} "
            r"does not verify$",
        ),
        "checkpoint for another origin": (
            replace(good, checkpoint=other_origin(c)).to_bytes(),
            policy,
            None,
            r"^checkpoint for origin 'mirror\.example/demo' is not signed by a log of the policy",
        ),
        "forged cosignature by a small-order witness key": (
            replace(good, checkpoint=forged_cosignature(two)).to_bytes(),
            forger_policy(c),
            None,
            r"^signature by known key forger\.example/w\+[0-9a-f]{8} does not verify$",
        ),
        "forged cosignature (R = B) by a small-order witness key": (
            replace(good, checkpoint=forged_cosignature(two, BASE_POINT, 1)).to_bytes(),
            forger_policy(c),
            None,
            r"^signature by known key forger\.example/w\+[0-9a-f]{8} does not verify$",
        ),
        "wrong policy log key": (
            good.to_bytes(),
            wrong_log_policy,
            None,
            r"^checkpoint for origin 'ledger\.example/demo' is not signed by a log of the "
            r"policy \(policy logs: ledger\.example/demo\)$",
        ),
        "entry differs from extra": (
            good.to_bytes(),
            policy,
            b'{"fact":124}',
            r"^the entry given differs from the entry in the proof's extra line$",
        ),
        "no extra and no entry": (
            c.proof(123, extra=False).to_bytes(),
            policy,
            None,
            r"^proof has no extra line and no entry was given$",
        ),
        "malformed header": (
            good.to_bytes().replace(b"tlog-proof@v1", b"tlog-proof@v2", 1),
            policy,
            None,
            r"^proof does not start with 'c2sp\.org/tlog-proof@v1'$",
        ),
        "non-canonical proof hash": (
            good.to_bytes().replace(
                b64(good.inclusion[0]).encode(), non_canonical(good.inclusion[0]).encode()
            ),
            policy,
            None,
            r"^proof hash 1 is not canonical base64$",
        ),
        "checkpoint signed by nobody known": (
            good.to_bytes(),
            replace(
                c.policy, logs=(PolicyLog(other_log),), witnesses=(), groups=(), quorum="none"
            ).to_text(),
            None,
            r"^note has no signature from a known key \(signed by: brand\.example/cosigner, "
            r"carrier\.example/cosigner, customs\.example/cosigner, ledger\.example/demo\)$",
        ),
        "policy threshold 5 of 4": (
            good.to_bytes(),
            policy.replace(b"group consortium 3 ", b"group consortium 5 "),
            None,
            r"^policy line 6: group threshold 5 is outside 1\.\.4$",
        ),
        "policy log key of witness type": (
            good.to_bytes(),
            policy.replace(
                b"log " + c.log_key.verifier().to_vkey().encode(),
                b"log " + c.witnesses["brand"].verifier().to_vkey().encode(),
            ),
            None,
            r"^policy line 1: log key brand\.example/cosigner has type 0x04, want 0x01$",
        ),
        "policy member used before definition": (
            good.to_bytes(),
            b"group g any brand\n" + policy,
            None,
            r"^policy line 1: group member 'brand' is not defined above$",
        ),
        "policy with two quorum lines": (
            good.to_bytes(),
            policy + b"quorum brand\n",
            None,
            r"^policy line 8: a policy has exactly one quorum line$",
        ),
    }


CASES = _cases(CONSORTIUM)


@pytest.mark.parametrize("name", list(CASES))
def test_tampered_inputs_reject_like_python(page: Any, server: Server, name: str) -> None:
    proof, policy, entry, message = CASES[name]
    py = py_verify(proof, policy, entry)
    assert isinstance(py, VeriledgerError), f"python accepted {name!r}"
    js = js_verify(page, server, proof, policy, entry)
    assert not js["ok"], f"browser accepted {name!r}"
    assert re.search(message, js["error"]), (js["error"], str(py))


# --- the parsers and the Merkle check on their own -------------------------------------------


def js_try(page: Any, body: str, arg: Any = None) -> dict[str, Any]:
    """Run ``body`` (an async function body over ``arg``) in the page; errors become data."""
    return page.evaluate(
        "async ([body, arg]) => { try { return { ok: true, value: await new "
        "(Object.getPrototypeOf(async function () {}).constructor)('arg', body)(arg) }; }"
        " catch (error) { return { ok: false, error: error.message }; } }",
        [body, arg],
    )


def test_parse_vkey_matches_python(page: Any) -> None:
    c = CONSORTIUM
    for key in [c.log_key.verifier(), *(k.verifier() for k in c.witnesses.values())]:
        got = js_try(
            page,
            "const k = await tlog.parseVkey(arg);"
            "return { ...k, publicKey: Array.from(k.publicKey) };",
            key.to_vkey(),
        )
        assert got == {
            "ok": True,
            "value": {
                "name": key.name,
                "keyId": key.key_id,
                "type": key.sig_type,
                "publicKey": list(key.public_key),
            },
        }
    vkey = c.log_key.verifier().to_vkey()
    name, key_id, material = vkey.split("+", 2)
    wrong_id = f"{name}+{(int(key_id, 16) ^ 1):08x}+{material}"
    other_type = f"{name}+{key_id}+{b64(bytes([2]) + base64.b64decode(material)[1:])}"
    for bad, message in [
        (wrong_id, "does not match its name and key"),
        (other_type, "unsupported signature type 0x02 in vkey"),
        (f"{name}+{key_id}", "vkey must have 3 '+'-separated fields, has 2"),
        (f"{name}+{key_id.upper()}+{material}", "is not 8 lowercase hex digits"),
    ]:
        got = js_try(page, "return await tlog.parseVkey(arg);", bad)
        assert not got["ok"] and message in got["error"], (bad, got)


def test_parse_checkpoint_and_policy(page: Any) -> None:
    text = Checkpoint("a.example/log", 2**60 + 1, bytes(range(32)), ("ext 1",)).to_text()
    got = js_try(
        page,
        "const c = tlog.parseCheckpoint(window.b64(arg));"
        "return { ...c, size: [typeof c.size, String(c.size)], rootHash: Array.from(c.rootHash) };",
        b64(text),
    )
    assert got["value"] == {
        "origin": "a.example/log",
        "size": ["bigint", str(2**60 + 1)],
        "rootHash": list(range(32)),
        "extensions": ["ext 1"],
    }
    for bad in [b"a\n01\n" + b64(bytes(32)).encode() + b"\n", b"a\n1\n" + b64(bytes(31)).encode()]:
        got = js_try(page, "return tlog.parseCheckpoint(window.b64(arg));", b64(bad))
        assert not got["ok"], got
    got = js_try(
        page,
        "const p = await tlog.parsePolicy(arg);"
        "return { logs: p.logs.map((l) => l.name), witnesses: p.witnesses.map((w) => w.name),"
        " groups: p.groups, quorum: p.quorum };",
        _nested_policy(CONSORTIUM).decode(),
    )
    assert got["value"] == {
        "logs": ["ledger.example/demo"],
        "witnesses": ORGS,
        "groups": [
            {"name": "makers", "threshold": 2, "members": ["brand", "carrier"]},
            {"name": "checkers", "threshold": 1, "members": ["customs", "retailer"]},
            {"name": "both", "threshold": 2, "members": ["makers", "checkers"]},
        ],
        "quorum": "both",
    }


NOTE_TEXT = b"ledger.example/demo\n2\n" + b64(bytes(32)).encode() + b"\n"
SIG_LINE = "\u2014 k.example/n " + b64(b"\x01\x02\x03\x04" + bytes(64)) + "\n"


NOTE_CASES = {
    "valid": (NOTE_TEXT + b"\n" + SIG_LINE.encode(), True),
    "BOM and blank lines in the text": (
        b"\xef\xbb\xbftext\n\nmore\x7f\n\n" + (SIG_LINE * 2).encode(),
        True,
    ),
    "no final newline": (NOTE_TEXT + b"\n" + SIG_LINE.encode()[:-1], False),
    "no signature lines": (NOTE_TEXT + b"\n", False),
    "no blank line": (NOTE_TEXT + SIG_LINE.encode(), False),
    "tab in text": (b"a\tb\n\n" + SIG_LINE.encode(), False),
    "carriage return": (b"a\r\n\n" + SIG_LINE.encode(), False),
    "not UTF-8": (b"\xff\n\n" + SIG_LINE.encode(), False),
    "non-canonical base64": (NOTE_TEXT + b"\n" + SIG_LINE.replace("AAA=", "AAB=").encode(), False),
    "'+' in key name": (NOTE_TEXT + "\n\u2014 k+x AQIDBAU=\n".encode(), False),
    "shorter than a key ID": (NOTE_TEXT + "\n\u2014 k AQIDBA==\n".encode(), False),
    "hyphen instead of em dash": (NOTE_TEXT + b"\n- k AQIDBAU=\n", False),
    "space inside base64": (NOTE_TEXT + "\n\u2014 k AQID BAU=\n".encode(), False),
}


@pytest.mark.parametrize("name", list(NOTE_CASES))
def test_parse_note_agrees_with_python(page: Any, name: str) -> None:
    note, ok = NOTE_CASES[name]
    try:
        parsed = parse_note(note)
    except VeriledgerError as exc:
        parsed = exc
    assert isinstance(parsed, Exception) != ok, parsed
    got = js_try(
        page,
        "const n = tlog.parseNote(window.b64(arg));"
        "return { text: n.text, sigs: n.signatures.map((s) => [s.name, s.keyId, s.sig.length]) };",
        b64(note),
    )
    if isinstance(parsed, Exception):
        assert not got["ok"], (got, parsed)
    else:
        assert got["value"] == {
            "text": parsed.text.decode(),
            "sigs": [[s.name, s.key_id, len(s.signature)] for s in parsed.signatures],
        }


def test_verify_inclusion_messages(page: Any) -> None:
    leaves = [leaf_hash(b"%d" % i) for i in range(11)]
    proof, root = audit_path(4, leaves), mth(leaves)
    assert len(proof) == 4
    body = (
        "const [i, n, leaf, proof, root] = arg; const b = window.b64;"
        "await tlog.verifyInclusion(i, n, b(leaf), proof.map(b), b(root));"
        "return 'ok';"
    )
    args = [4, 11, b64(leaves[4]), [b64(h) for h in proof], b64(root)]
    assert js_try(page, body, args) == {"ok": True, "value": "ok"}
    got = js_try(page, body, [*args[:3], args[3][:3], args[4]])
    assert got == {"ok": False, "error": "wrong proof size 3, want 4"}
    got = js_try(page, body, [5, *args[1:]])
    assert got["error"].startswith("calculated root "), got
    assert got["error"].endswith(f" does not match checkpoint root {root.hex()}"), got
    got = js_try(page, body, [11, *args[1:]])
    assert got == {"ok": False, "error": "index 11 is not in a tree of size 11"}

"""The HTTP API over real loopback: submission paths, reads, and every refusal's shape."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import httpx
import orjson
import pytest

from veriledger.chain.transactions import sign_transaction
from veriledger.core.keys import SignerKey
from veriledger.log.policy import Policy
from veriledger.node.node import Node
from veriledger.sdk import ApiError, Client, verify_receipt


@pytest.fixture(scope="module")
def creds(demo_node: Node) -> dict[str, dict[str, str]]:
    return orjson.loads((demo_node.data_dir / "credentials.json").read_bytes())


def _digest() -> str:
    return hashlib.sha256(os.urandom(16)).hexdigest()


def _assert_problem(
    response: httpx.Response, status: int, field: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) >= {"type", "title", "status", "detail"}
    assert problem["status"] == status
    assert problem["type"].startswith("urn:veriledger:problem:")
    if field is not None:
        assert problem.get("field") == field, problem
    return problem


def test_token_submission_commits_and_receipt_verifies(
    demo_url: str, demo_node: Node, creds: dict[str, dict[str, str]]
) -> None:
    client = Client(demo_url, token=creds["aurora"]["aurora/anna"])
    result = client.submit("notary.attest", {"digest": _digest(), "kind": "lab-report"})
    assert result["status"] == "committed"
    tx = client.transaction(result["id"])
    assert tx["transaction"]["signer"]  # signed by the node for anna
    verified = verify_receipt(client.receipt(result["id"]), client.policy())
    assert verified.index == result["index"]
    assert orjson.loads(verified.entry)["type"] == "notary.attest"
    assert "aurora" in verified.policy.cosigners


def test_signed_batch_and_pending_then_committed(demo_url: str, demo_node: Node) -> None:
    key = demo_node.member_key("swiftfreight/chen")
    txs = [
        sign_transaction(
            key, demo_node.chain, "notary.attest", {"digest": _digest(), "kind": "bol"}
        )
        for _ in range(3)
    ]
    response = httpx.post(f"{demo_url}/api/v1/transactions", json=[t.to_json() for t in txs])
    assert response.status_code == 202
    assert [r["status"] for r in response.json()] == ["pending"] * 3
    client = Client(demo_url)
    for tx in txs:
        for _ in range(200):
            if client.transaction(tx.id)["status"] == "committed":
                break
            import time

            time.sleep(0.02)
        assert client.transaction(tx.id)["status"] == "committed"


def test_rejected_by_rule_with_wait_is_422_with_code(
    demo_url: str, creds: dict[str, dict[str, str]]
) -> None:
    client = Client(demo_url, token=creds["citymart"]["citymart/hana"])
    body = {"digest": _digest(), "kind": "doc"}
    client.submit("notary.attest", body)
    with pytest.raises(ApiError) as info:
        client.submit("notary.attest", body)  # same member, same digest: notary/2
    assert info.value.status == 422
    assert info.value.problem["code"] == "notary/2"


BAD = "urn:veriledger:problem:"


def test_malformed_json(demo_url: str, creds: dict[str, dict[str, str]]) -> None:
    r = httpx.post(
        f"{demo_url}/api/v1/transactions",
        content=b"{",
        headers={"Authorization": f"Bearer {creds['aurora']['aurora/anna']}"},
    )
    _assert_problem(r, 400, "body")


def test_unknown_field_signed_and_unsigned(
    demo_url: str, demo_node: Node, creds: dict[str, dict[str, str]]
) -> None:
    tx = sign_transaction(
        demo_node.member_key("aurora/ben"),
        demo_node.chain,
        "notary.attest",
        {"digest": _digest(), "kind": "x"},
    ).to_json()
    r = httpx.post(f"{demo_url}/api/v1/transactions", json={**tx, "extra": 1})
    _assert_problem(r, 400, "extra")
    r = httpx.post(
        f"{demo_url}/api/v1/transactions",
        json={"type": "notary.attest", "body": {"digest": _digest(), "knd": "x"}},
        headers={"Authorization": f"Bearer {creds['aurora']['aurora/anna']}"},
    )
    assert _assert_problem(r, 400, "body.knd")["code"] == "chain/4"


def test_bad_signature(demo_url: str, demo_node: Node) -> None:
    tx = sign_transaction(
        demo_node.member_key("aurora/ben"),
        demo_node.chain,
        "notary.attest",
        {"digest": _digest(), "kind": "x"},
    ).to_json()
    tx["body"]["kind"] = "y"
    _assert_problem(httpx.post(f"{demo_url}/api/v1/transactions", json=tx), 400, "sig")


def test_unknown_and_revoked_signers(demo_url: str, demo_node: Node) -> None:
    stranger = SignerKey.generate("stranger")
    tx = sign_transaction(
        stranger, demo_node.chain, "notary.attest", {"digest": _digest(), "kind": "x"}
    )
    problem = _assert_problem(httpx.post(f"{demo_url}/api/v1/transactions", json=tx.to_json()), 403)
    assert problem["code"] == "identity/1"
    # dara's first key was rotated out by the demo history
    retired = next(demo_node.keystore.path.glob("swiftfreight%2Fdara.skey.retired-*"))
    old = SignerKey.parse(retired.read_text())
    tx = sign_transaction(old, demo_node.chain, "notary.attest", {"digest": _digest(), "kind": "x"})
    problem = _assert_problem(httpx.post(f"{demo_url}/api/v1/transactions", json=tx.to_json()), 403)
    assert problem["code"] == "identity/2"


def test_role_not_allowed(demo_url: str, creds: dict[str, dict[str, str]]) -> None:
    r = httpx.post(
        f"{demo_url}/api/v1/transactions",
        json={
            "type": "identity.add_member",
            "body": {"id": "aurora/zed", "name": "Zed", "roles": [], "key": "A" * 43 + "="},
        },
        headers={"Authorization": f"Bearer {creds['aurora']['aurora/ben']}"},
    )
    assert _assert_problem(r, 403)["code"] == "chain/3"


def test_resubmitted_envelope_answers_its_status(demo_url: str, demo_node: Node) -> None:
    tx = sign_transaction(
        demo_node.member_key("aurora/ben"),
        demo_node.chain,
        "notary.attest",
        {"digest": _digest(), "kind": "x"},
    ).to_json()
    assert (
        httpx.post(f"{demo_url}/api/v1/transactions", json=tx, params={"wait": True}).status_code
        == 200
    )
    size = demo_node.log.size
    again = httpx.post(f"{demo_url}/api/v1/transactions", json=tx)  # a client retrying
    assert again.status_code == 200
    assert again.json()["status"] == "committed" and again.json()["index"] is not None
    assert demo_node.log.size == size  # answered, not ordered again
    _assert_problem(httpx.post(f"{demo_url}/api/v1/transactions", json=[tx, tx]), 409)


def test_wrong_chain(demo_url: str, demo_node: Node) -> None:
    tx = sign_transaction(
        demo_node.member_key("aurora/ben"),
        "other.example/chain",
        "notary.attest",
        {"digest": _digest(), "kind": "x"},
    )
    _assert_problem(httpx.post(f"{demo_url}/api/v1/transactions", json=tx.to_json()), 400, "chain")


def test_oversize(demo_url: str) -> None:
    r = httpx.post(f"{demo_url}/api/v1/transactions", content=b"[" + b" " * (9 << 20) + b"]")
    _assert_problem(r, 413)


def test_missing_and_wrong_token(demo_url: str) -> None:
    item = {"type": "notary.attest", "body": {"digest": _digest(), "kind": "x"}}
    r = httpx.post(f"{demo_url}/api/v1/transactions", json=item)
    _assert_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    r = httpx.post(
        f"{demo_url}/api/v1/transactions", json=item, headers={"Authorization": "Bearer vl_nope"}
    )
    _assert_problem(r, 401)


def test_nothing_is_stored_by_refusals(demo_url: str, demo_node: Node) -> None:
    before = demo_node.storage.counts()["transactions"]
    test_bad_signature(demo_url, demo_node)
    test_wrong_chain(demo_url, demo_node)
    test_oversize(demo_url)
    test_missing_and_wrong_token(demo_url)
    assert demo_node.storage.counts()["transactions"] == before
    assert demo_node.engine.pending() == 0


def test_reads(demo_url: str) -> None:
    blocks = httpx.get(f"{demo_url}/api/v1/blocks").json()
    assert blocks[0]["height"] > blocks[-1]["height"]
    block = httpx.get(f"{demo_url}/api/v1/blocks/1").json()
    assert block["header"]["height"] == 1
    assert block["transactions"]
    cp = httpx.get(f"{demo_url}/api/v1/checkpoint").json()
    assert cp["final"] and len(cp["cosigners"]) == 6
    consistency = httpx.get(f"{demo_url}/api/v1/consistency", params={"from": 2, "to": cp["size"]})
    assert consistency.status_code == 200
    orgs = httpx.get(f"{demo_url}/api/v1/organisations").json()
    assert {o["kind"] for o in orgs} == {"brand", "logistics", "customs", "retailer", "regulator"}
    members = httpx.get(f"{demo_url}/api/v1/members", params={"org": "citymart"}).json()
    assert {m["id"] for m in members} >= {"citymart/hana", "citymart/kai"}
    assert httpx.get(f"{demo_url}/healthz").json()["status"] == "ok"
    metrics = httpx.get(f"{demo_url}/metrics").text
    assert "veriledger_height " in metrics and "# TYPE veriledger_blocks_total counter" in metrics
    assert httpx.get(f"{demo_url}/docs").status_code == 200
    assert Policy.parse(httpx.get(f"{demo_url}/tlog/policy").content).quorum == "consortium"
    _assert_problem(httpx.get(f"{demo_url}/api/v1/blocks/99999"), 404)
    _assert_problem(httpx.get(f"{demo_url}/api/v1/transactions/ab/receipt"), 404)
    _assert_problem(httpx.get(f"{demo_url}/tlog/tile/0/x999/000"), 404)
    _assert_problem(httpx.get(f"{demo_url}/tlog/tile/0/1"), 400)

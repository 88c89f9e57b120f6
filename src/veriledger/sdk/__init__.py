"""The Python SDK: a small client for a node, and offline receipt verification.

``verify_receipt(receipt, policy)`` needs nothing but the two files: it never talks
to a node and raises only :class:`~veriledger.core.errors.VerificationError`, so a
caller can treat "not verified" as one outcome. The client takes an injected httpx
transport, so tests and other programs can swap the network for a function.
"""

from __future__ import annotations

from typing import Any

import httpx

from veriledger.chain.transactions import Transaction, sign_transaction
from veriledger.core.errors import VerificationError, VeriledgerError
from veriledger.core.keys import SignerKey
from veriledger.log.policy import Policy
from veriledger.log.tlog_proof import ProofVerification, TlogProof, verify_tlog_proof

__all__ = ["ApiError", "Client", "verify_receipt"]


def verify_receipt(
    receipt: bytes, policy: bytes | Policy, entry: bytes | None = None
) -> ProofVerification:
    """Verify a Veriledger receipt (a C2SP tlog-proof) offline against a tlog-policy.

    Raises:
        VerificationError: the receipt or policy is malformed, the checkpoint lacks
            the log's signature or the cosigner quorum, or the inclusion proof fails.
    """
    try:
        parsed_policy = policy if isinstance(policy, Policy) else Policy.parse(policy)
        return verify_tlog_proof(TlogProof.parse(receipt), parsed_policy, entry)
    except VerificationError:
        raise
    except VeriledgerError as exc:
        raise VerificationError(f"not verified: {exc.diagnostics()}") from exc


class ApiError(VeriledgerError):
    """The node answered with an RFC 9457 problem."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        detail = problem.get("detail") or problem.get("title") or "error"
        field = f" ({problem['field']})" if problem.get("field") else ""
        super().__init__(f"HTTP {status}: {detail}{field}")
        self.status = status
        self.problem = problem


class Client:
    """A node's HTTP API."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(
            base_url=base_url, headers=headers, transport=transport, timeout=timeout
        )
        self._chain: str | None = None

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text}
            raise ApiError(response.status_code, problem)
        return response

    def chain(self) -> str:
        if self._chain is None:
            self._chain = str(self._check(self.http.get("/healthz")).json()["chain"])
        return self._chain

    def submit(self, type_: str, body: dict[str, Any], wait: bool = True) -> Any:
        """Submit an unsigned message for the token's member; the node signs it."""
        response = self.http.post(
            "/api/v1/transactions", json={"type": type_, "body": body}, params={"wait": wait}
        )
        return self._check(response).json()

    def submit_transactions(self, txs: list[Transaction], wait: bool = True) -> Any:
        """Submit signed envelopes as one batch (accepted or refused whole)."""
        response = self.http.post(
            "/api/v1/transactions", json=[tx.to_json() for tx in txs], params={"wait": wait}
        )
        return self._check(response).json()

    def submit_signed(
        self,
        key: SignerKey,
        type_: str,
        body: dict[str, Any],
        chain: str | None = None,
        wait: bool = True,
    ) -> Any:
        """Sign here with ``key`` and submit."""
        tx = sign_transaction(key, chain or self.chain(), type_, body)
        return self.submit_transactions([tx], wait)[0]

    def transaction(self, tx_id: str) -> Any:
        return self._check(self.http.get(f"/api/v1/transactions/{tx_id}")).json()

    def receipt(self, tx_id: str) -> bytes:
        return self._check(self.http.get(f"/api/v1/transactions/{tx_id}/receipt")).content

    def policy(self) -> bytes:
        return self._check(self.http.get("/tlog/policy")).content

    def checkpoint(self) -> bytes:
        return self._check(self.http.get("/tlog/checkpoint")).content

    def verified_receipt(self, tx_id: str, policy: bytes | Policy) -> ProofVerification:
        """Fetch a receipt and verify it against a policy the caller already trusts."""
        return verify_receipt(self.receipt(tx_id), policy)

"""``veriledger verify``: check a tlog-proof offline against a tlog-policy."""

from __future__ import annotations

from pathlib import Path

import typer

from veriledger.core.errors import BadInputError
from veriledger.log.policy import Policy
from veriledger.log.tlog_proof import TlogProof, verify_tlog_proof


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read {what} {path}: {exc.strerror}") from None


def verify(
    proof_file: Path = typer.Argument(..., metavar="FILE.tlog-proof", help="The proof to check."),
    policy_file: Path = typer.Option(..., "--policy", help="The tlog-policy to trust."),
    entry_file: Path | None = typer.Option(
        None, "--entry", help="The entry's bytes, when the proof has no extra line."
    ),
) -> None:
    """Verify that an entry is in a log whose checkpoint meets the policy's quorum.

    Exit 0 with one line naming the index, the checkpoint size and the cosigners;
    otherwise exit 1 (a check failed) or 2 (unreadable input) with one line saying why.
    """
    policy = Policy.parse(_read(policy_file, "policy"))
    proof = TlogProof.parse(_read(proof_file, "proof"))
    entry = _read(entry_file, "entry") if entry_file else None
    result = verify_tlog_proof(proof, policy, entry)
    checkpoint = result.policy.checkpoint
    cosigners = ", ".join(result.policy.cosigners) or "no cosigner needed"
    typer.echo(
        f"OK: entry {result.index} is in {checkpoint.origin} at size {checkpoint.size}, "
        f"signed by {result.policy.log}; quorum {policy.describe_quorum()} "
        f"satisfied by {cosigners}"
    )

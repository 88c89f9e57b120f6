"""Attestations: a member states, under its signature, that a document exists."""

from veriledger.modules.notary.module import MODULE

__all__ = ["MODULE"]

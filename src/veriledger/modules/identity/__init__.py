"""Organisations, members, roles, and the keys members sign with."""

from veriledger.modules.identity.module import MODULE, authorize, genesis_writes

__all__ = ["MODULE", "authorize", "genesis_writes"]

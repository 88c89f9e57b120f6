"""Veriledger: a consortium ledger for trustworthy e-commerce, verifiable by anyone."""

__version__ = "0.1.0"

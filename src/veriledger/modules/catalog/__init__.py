"""GS1 company prefix claims, products by GTIN, locations by GLN."""

from veriledger.modules.catalog.module import MODULE

__all__ = ["MODULE"]

"""Anti-counterfeiting: salted hashes of scratch-off codes, consumer scans, clones, NFC taps."""

from veriledger.modules.authenticity.module import MODULE

__all__ = ["MODULE"]

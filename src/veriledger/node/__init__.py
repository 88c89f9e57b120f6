"""Layer 5: the running node: submission, ordering, block cutting, checkpoints, receipts."""

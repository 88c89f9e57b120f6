"""Layer 3: transactions, blocks, the deterministic driver and SQLite storage."""

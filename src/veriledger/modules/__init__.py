"""Layer 4: the business domains, one package each (like Cosmos SDK x/ modules)."""

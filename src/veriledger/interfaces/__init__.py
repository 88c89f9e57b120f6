"""Layer 6: the thin edges (CLI, benchmarks, later HTTP and pages) over the layers below."""

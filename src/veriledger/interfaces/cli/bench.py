"""``veriledger bench``: measured performance, as ratios to baselines from the same run."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Benchmarks, each reported as a ratio to a raw baseline.", no_args_is_help=True
)


@app.command("log")
def log(
    size: int = typer.Option(1_000_000, help="Entries in the tree used for proof timings."),
    seconds: float = typer.Option(2.0, help="Time budget per throughput measurement."),
    markdown: bool = typer.Option(False, help="Print a Markdown table for docs/benchmarks.md."),
) -> None:
    """Tiled-tree appends, proofs at SIZE entries, and note signing and verification."""
    from veriledger.interfaces.bench.log_bench import print_report, run

    print_report(run(size=size, seconds=seconds), markdown=markdown)


@app.command("ingest")
def ingest(
    count: int = typer.Option(20_000, help="Signed transactions to commit per measurement."),
    batch: int = typer.Option(1000, help="Transactions per submitted batch."),
    seconds: float = typer.Option(2.0, help="Time budget for the baseline."),
    markdown: bool = typer.Option(False, help="Print a Markdown table for docs/benchmarks.md."),
) -> None:
    """Committed signed transactions per second, in process and over HTTP, vs raw verify."""
    from veriledger.interfaces.bench.ingest_bench import run
    from veriledger.interfaces.bench.log_bench import print_report

    print_report(run(count=count, batch=batch, seconds=seconds), markdown=markdown, title="ingest")


@app.command("trace")
def trace(
    events: int = typer.Option(1_000_000, help="Stored events for the history and recall runs."),
    capture: int = typer.Option(20_000, help="Events to capture through /epcis/capture."),
    lot_items: int = typer.Option(100_000, help="Items in the recalled lot."),
    markdown: bool = typer.Option(False, help="Print a Markdown table for docs/benchmarks.md."),
) -> None:
    """EPCIS capture, item history through aggregation, recall reports, the product page."""
    from veriledger.interfaces.bench.log_bench import print_report
    from veriledger.interfaces.bench.trace_bench import run

    print_report(
        run(events=events, capture=capture, lot_items=lot_items), markdown=markdown, title="trace"
    )

"""``veriledger init | serve | demo | submit | proof | verify-ledger``."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from veriledger.core.errors import BadInputError

if TYPE_CHECKING:
    from veriledger.interfaces.http.ratelimit import WriteLimits

DataDir = typer.Option(Path(".veriledger"), "--data-dir", help="The node's data directory.")
Host = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default).")
Port = typer.Option(8000, "--port", help="TCP port.")
WritesPerMinute = typer.Option(
    60,
    "--anonymous-writes-per-minute",
    help="Ledger writes a minute one client address may cause by code checks and NFC taps.",
)
WriteBurst = typer.Option(20, "--anonymous-write-burst", help="How many of those may come at once.")
WritesTotal = typer.Option(
    600,
    "--anonymous-writes-total-per-minute",
    help="Ledger writes a minute all anonymous clients together may cause.",
)
TrustedProxy = typer.Option(
    [],
    "--trusted-proxy",
    help="An address or network (repeat) whose X-Forwarded-For names the client; none by default.",
)


def init(
    data_dir: Path = DataDir,
    chain: str = typer.Option(..., "--chain", help="Log origin, e.g. ledger.example.org/trade."),
    org: list[str] = typer.Option(
        ..., "--org", help="id:kind:Display name (repeat). Each gets an admin member."
    ),
    quorum: int = typer.Option(0, help="Cosigning organisations needed; 0 = BFT default."),
) -> None:
    """Create a single-node consortium: keys, genesis file and API tokens."""
    from veriledger.node.datadir import CREDENTIALS, OrgSpec, init_data_dir

    specs = []
    for item in org:
        parts = item.split(":", 2)
        if len(parts) != 3:
            raise BadInputError(f"--org {item!r}: want id:kind:Display name")
        org_id, kind, name = parts
        specs.append(OrgSpec(org_id, name, kind, [("admin", f"{name} admin", ["admin"])]))
    genesis = init_data_dir(data_dir, chain, specs, int(time.time() * 1000), quorum=quorum)
    typer.echo(
        f"created {genesis.chain} in {data_dir}: {len(specs)} organisations, "
        f"quorum {genesis.cosigning_quorum}"
    )
    typer.echo(f"API tokens: {data_dir / CREDENTIALS}")


def _limits(per_minute: int, burst: int, total: int, proxies: list[str]) -> WriteLimits:
    """The anonymous-write limits from the options (see :mod:`.http.ratelimit`).

    Raises:
        BadInputError: a limit below 1 or a proxy that is not an address or network.
    """
    from veriledger.interfaces.http.ratelimit import WriteLimits

    return WriteLimits(
        per_minute=per_minute,
        burst=burst,
        total_per_minute=total,
        total_burst=max(burst, total // 5),
        trusted_proxies=tuple(proxies),
    )


def _serve(data_dir: Path, host: str, port: int, limits: WriteLimits) -> None:
    import uvicorn

    from veriledger.interfaces.http import ratelimit
    from veriledger.interfaces.http.app import create_app
    from veriledger.node.node import Node

    # uvicorn stops gracefully on SIGTERM too, then raises the signal again with the
    # handler it found. Python's default handler would end the process on the spot,
    # skipping node.close() (its workers, subscriptions and queues): this one unwinds
    # through it, as Ctrl-C does.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    node = None
    try:
        node = Node(data_dir)
        node.signatures.start()  # workers ready before the first large batch arrives
        typer.echo(f"serving {node.chain} on http://{host}:{port}/  (API docs: /docs)")
        app = create_app(node)
        ratelimit.install(app, limits)
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM may not cut close short
        if node is not None:
            node.close()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(
    data_dir: Path = DataDir,
    host: str = Host,
    port: int = Port,
    writes_per_minute: int = WritesPerMinute,
    write_burst: int = WriteBurst,
    writes_total: int = WritesTotal,
    trusted_proxy: list[str] = TrustedProxy,
) -> None:
    """Run the node and its HTTP interface."""
    limits = _limits(writes_per_minute, write_burst, writes_total, trusted_proxy)
    _serve(data_dir, host, port, limits)


def demo(
    data_dir: Path = typer.Option(
        Path(".veriledger-demo"), "--data-dir", help="Where the demo consortium lives."
    ),
    host: str = Host,
    port: int = Port,
    writes_per_minute: int = WritesPerMinute,
    write_burst: int = WriteBurst,
    writes_total: int = WritesTotal,
    trusted_proxy: list[str] = TrustedProxy,
) -> None:
    """Create (once) and serve a demo consortium of six organisations with history."""
    limits = _limits(writes_per_minute, write_burst, writes_total, trusted_proxy)
    from veriledger.node.datadir import CREDENTIALS, GENESIS
    from veriledger.node.demo import create_demo, seed_demo
    from veriledger.node.node import Node

    if not (data_dir / GENESIS).exists():
        typer.echo(f"creating the demo consortium in {data_dir} …")
        create_demo(data_dir)
        node = Node(data_dir)
        try:
            count = seed_demo(node)
        finally:
            node.close()
        typer.echo(f"seeded {count} committed transactions")
    typer.echo(f"API tokens (organisation → member → token): {(data_dir / CREDENTIALS).resolve()}")
    _serve(data_dir, host, port, limits)


def submit(
    type_: str = typer.Option(..., "--type", help="<module>.<message>, e.g. notary.attest."),
    body: str = typer.Option(..., "--body", help="The message body as JSON, or @file."),
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="The node."),
    token: str | None = typer.Option(
        None, "--token", envvar="VERILEDGER_TOKEN", help="API token; the node signs for its member."
    ),
    key: str | None = typer.Option(None, "--key", help="Sign locally with this keystore key."),
    keystore: Path | None = typer.Option(None, "--keystore", help="Keystore directory."),
    chain: str | None = typer.Option(None, "--chain", help="Chain id (default: ask the node)."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the commit."),
) -> None:
    """Submit one transaction, signed here with --key or by the node for --token."""
    import orjson

    from veriledger.interfaces.cli.keys import default_keystore
    from veriledger.sdk import Client

    text = Path(body[1:]).read_text() if body.startswith("@") else body
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadInputError(f"--body is not JSON: {exc}") from None
    client = Client(url, token=token)
    if key:
        from veriledger.core.keystore import Keystore

        signer = Keystore(keystore or default_keystore()).load(key)
        result = client.submit_signed(signer, type_, parsed, chain=chain, wait=wait)
    else:
        result = client.submit(type_, parsed, wait=wait)
    typer.echo(orjson.dumps(result).decode())


def proof(
    tx_id: str = typer.Argument(..., help="Transaction id."),
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="The node."),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="File (default <id>.tlog-proof)."
    ),
    policy_out: Path | None = typer.Option(None, "--policy-out", help="Also save /tlog/policy."),
) -> None:
    """Download a transaction's receipt (a C2SP tlog-proof) for offline verification."""
    from veriledger.sdk import Client

    client = Client(url)
    target = output or Path(f"{tx_id}.tlog-proof")
    target.write_bytes(client.receipt(tx_id))
    typer.echo(f"wrote {target}")
    if policy_out:
        policy_out.write_bytes(client.policy())
        typer.echo(f"wrote {policy_out}")


def verify_ledger(data_dir: Path = DataDir) -> None:
    """Re-derive the whole ledger from genesis and check every table against it.

    Exits 1 on the first difference, with one line naming the table, row and field
    (or the log entry); 2 when the data directory or its database cannot be read.
    """
    from rich.console import Console
    from rich.progress import Progress

    from veriledger.node.node import DEFAULT_MODULES
    from veriledger.node.verify_ledger import verify_ledger as run

    console = Console(stderr=True)
    # Off a terminal, rich would still end the bar with a blank line before the error.
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("re-deriving the ledger", total=None)
        report = run(
            data_dir,
            DEFAULT_MODULES,
            lambda done, total: bar.update(task, completed=done, total=total),
        )
    typer.echo(
        f"OK: {report.entries} entries, {report.blocks} blocks, {report.transactions} "
        f"transactions ({report.rejected} rejected), {report.checkpoints} checkpoints "
        f"({report.final_checkpoints} final), {report.state_keys} state keys: all re-derived"
    )

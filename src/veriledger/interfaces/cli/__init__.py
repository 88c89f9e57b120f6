"""The ``veriledger`` command: a thin layer over the public API.

Every command raises the package's own errors; :func:`main` catches
:class:`~veriledger.core.errors.VeriledgerError` once and prints its diagnostics on
one line. Tracebacks appear only with ``--verbose``.
"""

from __future__ import annotations

import sys

import typer

from veriledger import __version__
from veriledger.core.errors import BadInputError, VeriledgerError
from veriledger.interfaces.cli import bench, keys, labels, node_commands, verify

app = typer.Typer(
    name="veriledger",
    help="Veriledger: a consortium ledger for trustworthy e-commerce, verifiable by anyone.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(keys.app, name="keys")
app.add_typer(bench.app, name="bench")
app.command("verify")(verify.verify)
app.command("init")(node_commands.init)
app.command("serve")(node_commands.serve)
app.command("demo")(node_commands.demo)
app.command("submit")(node_commands.submit)
app.command("proof")(node_commands.proof)
app.command("verify-ledger")(node_commands.verify_ledger)
app.command("labels")(labels.labels)

_state = {"verbose": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"veriledger {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    _state["verbose"] = verbose


EXIT_FAILED = 1
"""A check failed: the data is well-formed but not what it claims."""
EXIT_BAD_INPUT = 2
"""The input could not be read or parsed, or the command was misused."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; usage errors are Typer's (exit 2)."""
    try:
        app(args=argv)
    except SystemExit as exc:  # Typer exits on completion and on usage errors
        return exc.code if isinstance(exc.code, int) else 0
    except VeriledgerError as exc:
        if _state["verbose"]:
            raise
        typer.echo(f"error: {exc.diagnostics()}", err=True)
        return EXIT_BAD_INPUT if isinstance(exc, BadInputError) else EXIT_FAILED
    except Exception as exc:
        if _state["verbose"]:
            raise
        typer.echo(f"internal error: {type(exc).__name__}: {exc} (run with --verbose)", err=True)
        return EXIT_FAILED
    return 0


def console_main() -> None:
    sys.exit(main())

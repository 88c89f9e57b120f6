"""``veriledger keys``: generate and inspect keys in the keystore."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from veriledger.core.keys import SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519, SignerKey
from veriledger.core.keystore import Keystore

app = typer.Typer(help="Generate and list signer keys.", no_args_is_help=True)

PASSPHRASE_ENV = "VERILEDGER_PASSPHRASE"  # noqa: S105 (the variable's name, not a secret)


def default_keystore() -> Path:
    """``$VERILEDGER_KEYSTORE``, else ``~/.veriledger/keys``."""
    return Path(os.environ.get("VERILEDGER_KEYSTORE", Path.home() / ".veriledger" / "keys"))


KeystoreOption = typer.Option(
    None,
    "--keystore",
    help="Keystore directory [default: $VERILEDGER_KEYSTORE or ~/.veriledger/keys].",
)


@app.command()
def generate(
    name: str = typer.Option(..., "--name", help="Key name, e.g. brand.example/log."),
    cosigner: bool = typer.Option(
        False, "--cosigner", help="A cosignature/v1 key (type 0x04) for cosigning checkpoints."
    ),
    encrypt: bool = typer.Option(
        False, "--encrypt", help=f"Seal the key with a passphrase (prompted, or ${PASSPHRASE_ENV})."
    ),
    keystore: Path | None = KeystoreOption,
) -> None:
    """Write a new signer key to the keystore and print its verifier key (vkey)."""
    store = Keystore(keystore or default_keystore())
    passphrase = None
    if encrypt:
        passphrase = os.environ.get(PASSPHRASE_ENV) or typer.prompt(
            "Passphrase", hide_input=True, confirmation_prompt=True
        )
    sig_type = SIG_TYPE_COSIGNATURE_V1 if cosigner else SIG_TYPE_ED25519
    key = SignerKey.generate(name, sig_type)
    path = store.save(key, passphrase)
    typer.echo(f"wrote {path}", err=True)
    typer.echo(key.verifier().to_vkey())


@app.command("list")
def list_keys(keystore: Path | None = KeystoreOption) -> None:
    """List the keys in the keystore with their vkeys."""
    store = Keystore(keystore or default_keystore())
    table = Table("name", "role", "key ID", "sealed", "vkey")
    for name in store.names():
        vkey = store.verifier(name)
        role = "cosigner" if vkey.sig_type == SIG_TYPE_COSIGNATURE_V1 else "signer"
        sealed = "yes" if store.is_encrypted(name) else "no"
        table.add_row(name, role, f"{vkey.key_id:08x}", sealed, vkey.to_vkey())
    Console().print(table)


@app.command()
def show(name: str, keystore: Path | None = KeystoreOption) -> None:
    """Print the vkey of NAME."""
    typer.echo(Keystore(keystore or default_keystore()).verifier(name).to_vkey())

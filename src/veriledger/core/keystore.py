"""A directory of signer keys, readable only by their owner.

The directory is mode 0700 and each key file 0600, written atomically (temporary
file, fsync, rename) so a crash never leaves half a key. A file holds one skey
line, or, when a passphrase is given, that line sealed with XSalsa20-Poly1305
(``nacl.secret.SecretBox``) under a key derived by argon2id. The KDF parameters
live in the file, so stronger settings later do not orphan old keys. A wrong
passphrase fails the box's MAC and is reported as such, never as garbage.
"""

from __future__ import annotations

import os
import stat
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from veriledger.core.encoding import b64decode_strict, b64encode, parse_decimal
from veriledger.core.errors import (
    KeyNotFoundError,
    KeystoreError,
    MalformedKeyError,
    WrongPassphraseError,
)
from veriledger.core.keys import SignerKey, VerifierKey

_ENCRYPTED_HEADER = "veriledger-encrypted-skey/v1"
_SUFFIX = ".skey"
_PUBLIC_SUFFIX = ".vkey"


def _filename(name: str, suffix: str = _SUFFIX) -> str:
    """Key names are URL-like (``example.com/log``); quote them into one path segment."""
    return urllib.parse.quote(name, safe="") + suffix


def seal_skey(
    skey: str,
    passphrase: str,
    opslimit: int = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
    memlimit: int = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE,
) -> str:
    """Encrypt an skey line under ``passphrase``; the result is a small text file."""
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    key = nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE, passphrase.encode(), salt, opslimit, memlimit
    )
    box = nacl.secret.SecretBox(key).encrypt(skey.encode())
    return (
        f"{_ENCRYPTED_HEADER}\nkdf argon2id {opslimit} {memlimit}\n"
        f"salt {b64encode(salt)}\nbox {b64encode(bytes(box))}\n"
    )


def open_skey(text: str, passphrase: str | None) -> str:
    """Return the skey line of a key file, decrypting it when it is sealed.

    Raises:
        WrongPassphraseError: the file is sealed and the passphrase is missing or wrong.
        MalformedKeyError: the sealed file is damaged.
    """
    if not text.startswith(_ENCRYPTED_HEADER + "\n"):
        return text.strip()
    if passphrase is None:
        raise WrongPassphraseError("this key is encrypted; a passphrase is required")
    lines = text.rstrip("\n").split("\n")
    if len(lines) != 4:
        raise MalformedKeyError("encrypted key file must have 4 lines")
    kdf = lines[1].split(" ")
    if len(kdf) != 4 or kdf[:2] != ["kdf", "argon2id"]:
        raise MalformedKeyError("encrypted key file has an unknown KDF line")
    opslimit = parse_decimal(kdf[2], "opslimit", MalformedKeyError)
    memlimit = parse_decimal(kdf[3], "memlimit", MalformedKeyError)
    argon = nacl.pwhash.argon2id
    if not (
        argon.OPSLIMIT_MIN <= opslimit <= argon.OPSLIMIT_SENSITIVE
        and argon.MEMLIMIT_MIN <= memlimit <= argon.MEMLIMIT_SENSITIVE
    ):
        raise MalformedKeyError("encrypted key file has KDF limits out of range")
    if not lines[2].startswith("salt ") or not lines[3].startswith("box "):
        raise MalformedKeyError("encrypted key file lacks its salt or box line")
    salt = b64decode_strict(lines[2][5:], "salt", MalformedKeyError)
    box = b64decode_strict(lines[3][4:], "box", MalformedKeyError)
    try:
        key = nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE, passphrase.encode(), salt, opslimit, memlimit
        )
        return nacl.secret.SecretBox(key).decrypt(box).decode()
    except nacl.exceptions.CryptoError:
        raise WrongPassphraseError("wrong passphrase for this key") from None
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError, UnicodeDecodeError):
        raise MalformedKeyError("encrypted key file is damaged") from None


class Keystore:
    """Signer keys by name in one private directory."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def _ensure_dir(self) -> None:
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.path, 0o700)
        except OSError as exc:
            raise KeystoreError(f"cannot create keystore {self.path}: {exc.strerror}") from None

    def save(self, key: SignerKey, passphrase: str | None = None) -> Path:
        """Write ``key``; refuses to overwrite a key of the same name.

        Raises:
            KeystoreError: the key exists or the directory is not writable.
        """
        self._ensure_dir()
        target = self.path / _filename(key.name)
        if target.exists():
            raise KeystoreError(f"a key named {key.name!r} already exists in {self.path}")
        body = key.to_skey() + "\n"
        if passphrase is not None:
            body = seal_skey(body, passphrase)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".tmp-", suffix=_SUFFIX)
            try:
                with os.fdopen(fd, "w") as out:
                    out.write(body)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(tmp, 0o600)
                os.link(tmp, target)  # fails if a concurrent writer got there first
            finally:
                os.unlink(tmp)
        except FileExistsError:
            raise KeystoreError(f"a key named {key.name!r} already exists") from None
        except OSError as exc:
            raise KeystoreError(f"cannot write key to {self.path}: {exc.strerror}") from None
        # The public half beside it, so listing keys never needs a passphrase.
        (self.path / _filename(key.name, _PUBLIC_SUFFIX)).write_text(
            key.verifier().to_vkey() + "\n"
        )
        return target

    def replace(self, key: SignerKey, passphrase: str | None = None) -> Path:
        """Store ``key`` in place of the key of the same name, keeping the old one.

        The old files are renamed ``<name>.skey.retired-<key id>`` (key rotation must
        not destroy the key that signed the past).

        Raises:
            KeyNotFoundError: there is no key of that name to replace.
        """
        old = self.verifier(key.name)
        suffix = f".retired-{old.key_id:08x}"
        for ext in (_SUFFIX, _PUBLIC_SUFFIX):
            current = self.path / _filename(key.name, ext)
            current.rename(current.with_name(current.name + suffix))
        return self.save(key, passphrase)

    def verifier(self, name: str) -> VerifierKey:
        """The public key of ``name``, without decrypting its private half.

        Raises:
            KeyNotFoundError: no such key.
        """
        try:
            return VerifierKey.parse(
                (self.path / _filename(name, _PUBLIC_SUFFIX)).read_text().strip()
            )
        except FileNotFoundError:
            raise KeyNotFoundError(f"no key named {name!r} in {self.path}") from None

    def load(self, name: str, passphrase: str | None = None) -> SignerKey:
        """Read the key called ``name``.

        Raises:
            KeyNotFoundError: no such key.
            KeystoreError: the file is readable by others (it may have leaked).
            WrongPassphraseError: the key is sealed and the passphrase is wrong.
            MalformedKeyError: the file does not hold a valid skey.
        """
        target = self.path / _filename(name)
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
            text = target.read_text()
        except FileNotFoundError:
            raise KeyNotFoundError(f"no key named {name!r} in {self.path}") from None
        except OSError as exc:
            raise KeystoreError(f"cannot read {target}: {exc.strerror}") from None
        if mode & 0o077:
            raise KeystoreError(
                f"{target} has mode {mode:04o}; key files must be 0600 (chmod 600 it)"
            )
        key = SignerKey.parse(open_skey(text, passphrase))
        if key.name != name:
            raise KeystoreError(f"{target} holds key {key.name!r}, not {name!r}")
        return key

    def is_encrypted(self, name: str) -> bool:
        target = self.path / _filename(name)
        try:
            return target.read_text().startswith(_ENCRYPTED_HEADER + "\n")
        except FileNotFoundError:
            raise KeyNotFoundError(f"no key named {name!r} in {self.path}") from None

    def names(self) -> Iterator[str]:
        """Names of the stored keys, sorted."""
        if not self.path.is_dir():
            return iter(())
        return iter(
            sorted(
                urllib.parse.unquote(p.name[: -len(_SUFFIX)])
                for p in self.path.glob("*" + _SUFFIX)
                if not p.name.startswith(".tmp-")
            )
        )

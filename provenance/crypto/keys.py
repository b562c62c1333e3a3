"""Signing keys: generation, PEM files, key ids, raw sign and verify.

Two algorithms: Ed25519 (the default, and the only one for the ledger's own
checkpoint key) and ECDSA P-256 with SHA-256 (what HSMs, smart cards and cloud
KMS offer). ECDSA signatures are DER-encoded, as sigstore and in-toto do.

A key id is the lowercase hex SHA-256 of the DER SubjectPublicKeyInfo: it binds
the algorithm and the key, and is what envelopes name in `keyid`.

Private keys are written as PKCS#8 PEM with file mode 0600, encrypted with the
given passphrase, or with `PROVENANCE_KEY_PASSPHRASE` when that is set (PBES2:
PBKDF2-HMAC-SHA256 at 600,000 iterations and AES-256-CBC, `crypto.pkcs8`); public key
files with mode 0644, whatever the umask.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from provenance.errors import ConfigError, InputError, MissingFileError, SignatureError

PASSPHRASE_ENV = "PROVENANCE_KEY_PASSPHRASE"  # noqa: S105 - the variable's name

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class Algorithm(StrEnum):
    """Signature algorithms the ledger accepts."""

    ED25519 = "ed25519"
    P256 = "p256"


def _algorithm_of(key: PrivateKey | PublicKey) -> Algorithm:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return Algorithm.ED25519
    if isinstance(key.curve, ec.SECP256R1):
        return Algorithm.P256
    raise InputError(f"unsupported elliptic curve {key.curve.name}: use Ed25519 or P-256")


def public_der(public_key: PublicKey) -> bytes:
    """DER SubjectPublicKeyInfo of a public key."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(public_key: PublicKey) -> str:
    """Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(public_der(public_key)).hexdigest()


@dataclass(frozen=True)
class VerifyingKey:
    """A public key with its id and algorithm."""

    public_key: PublicKey
    keyid: str
    algorithm: Algorithm

    @classmethod
    def from_public_key(cls, public_key: PublicKey) -> VerifyingKey:
        return cls(public_key, key_id(public_key), _algorithm_of(public_key))

    @classmethod
    def from_pem(cls, data: bytes | str) -> VerifyingKey:
        """Parse a PEM SubjectPublicKeyInfo (or DER, if it is not PEM)."""
        raw = data.encode() if isinstance(data, str) else data
        try:
            if raw.lstrip().startswith(b"-----BEGIN"):
                key = serialization.load_pem_public_key(raw)
            else:
                key = serialization.load_der_public_key(raw)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise InputError(f"not a public key in PEM or DER form: {exc}") from exc
        if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
            raise InputError("unsupported public key type: use Ed25519 or ECDSA P-256")
        return cls.from_public_key(key)

    @classmethod
    def from_der(cls, der: bytes) -> VerifyingKey:
        return cls.from_pem(der)

    def pem(self) -> str:
        """PEM SubjectPublicKeyInfo text."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def der(self) -> bytes:
        return public_der(self.public_key)

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raise `SignatureError` unless `signature` is this key's over `data`."""
        try:
            if isinstance(self.public_key, ed25519.Ed25519PublicKey):
                self.public_key.verify(signature, data)
            else:
                self.public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise SignatureError(f"signature does not verify with key {self.keyid[:16]}") from exc

    def is_valid_signature(self, signature: bytes, data: bytes) -> bool:
        try:
            self.verify(signature, data)
        except SignatureError:
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    """A private key with its public half."""

    private_key: PrivateKey
    verifying: VerifyingKey

    @property
    def keyid(self) -> str:
        return self.verifying.keyid

    @property
    def algorithm(self) -> Algorithm:
        return self.verifying.algorithm

    @classmethod
    def from_private_key(cls, private_key: PrivateKey) -> SigningKey:
        return cls(private_key, VerifyingKey.from_public_key(private_key.public_key()))

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            return self.private_key.sign(data)
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))

    def private_pem(self, passphrase: bytes | None = None) -> bytes:
        if passphrase:
            from provenance.crypto import pkcs8

            plain = self.private_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return pkcs8.encrypt(plain, passphrase)
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def generate(algorithm: Algorithm | str = Algorithm.ED25519) -> SigningKey:
    """A new random key."""
    algo = Algorithm(algorithm)
    private: PrivateKey
    if algo is Algorithm.ED25519:
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    return SigningKey.from_private_key(private)


def _passphrase(explicit: str | bytes | None) -> bytes | None:
    if explicit:
        return explicit.encode() if isinstance(explicit, str) else explicit
    env = os.environ.get(PASSPHRASE_ENV)
    return env.encode() if env else None


def save_private(path: Path, key: SigningKey, passphrase: str | bytes | None = None) -> None:
    """Write the private key as PKCS#8 PEM, mode 0600 from the first byte written."""
    data = key.private_pem(_passphrase(passphrase))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise InputError(f"{path} exists: refusing to overwrite a key file")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


PUBLIC_KEY_MODE = 0o644


def save_public(path: Path, key: VerifyingKey) -> None:
    """Write the public key PEM, mode 0644 whatever the umask (0666 under umask 000 would
    let anyone replace the key others verify with)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PUBLIC_KEY_MODE)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        os.fchmod(handle.fileno(), PUBLIC_KEY_MODE)
        handle.write(key.pem())


PassphrasePrompt = Callable[[Path], str]
"""prompt(path) -> the passphrase of the encrypted key at `path` (asked of a person)."""

_prompt: ContextVar[PassphrasePrompt | None] = ContextVar("passphrase_prompt", default=None)


@contextmanager
def prompting(prompt: PassphrasePrompt) -> Iterator[None]:
    """Within this, an encrypted key loaded with no passphrase (argument or env) asks
    `prompt` for it. The library never asks: the command line installs a prompt when its
    stdin is a terminal."""
    token = _prompt.set(prompt)
    try:
        yield
    finally:
        _prompt.reset(token)


def load_private(path: Path, passphrase: str | bytes | None = None) -> SigningKey:
    """Read a PEM private key; encrypted keys need a passphrase (argument or env, else the
    installed prompt's answer, see `prompting`)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise MissingFileError(f"key file {path} not found") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read key file {path}: {exc.strerror}") from exc
    secret = _passphrase(passphrase)
    prompt = _prompt.get()
    if secret is None and prompt is not None and b"ENCRYPTED" in data:
        secret = prompt(path).encode()
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except TypeError as exc:
        if secret is None:
            raise InputError(
                f"{path} is encrypted",
                hint=f"set {PASSPHRASE_ENV} to its passphrase",
            ) from exc
        raise InputError(f"{path} is not encrypted but a passphrase was given") from exc
    except ValueError as exc:
        if secret is not None and b"ENCRYPTED" in data:
            raise InputError(f"wrong passphrase for {path}") from exc
        raise InputError(f"{path} is not a PEM private key") from exc
    except UnsupportedAlgorithm as exc:
        raise InputError(f"{path}: unsupported key algorithm") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise InputError(f"{path}: unsupported key type, use Ed25519 or ECDSA P-256")
    return SigningKey.from_private_key(key)


def load_public(path: Path) -> VerifyingKey:
    """Read a public key file (PEM), or the public half of a private key file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise MissingFileError(f"public key file {path} not found") from exc
    if b"PRIVATE KEY" in data:
        return load_private(path).verifying
    return VerifyingKey.from_pem(data)

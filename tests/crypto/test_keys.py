"""Key generation, PEM files, key ids."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from provenance.crypto import keys
from provenance.errors import InputError, MissingFileError, SignatureError


@pytest.mark.parametrize("algorithm", ["ed25519", "p256"])
def test_generate_save_load_round_trip(tmp_path: Path, algorithm: str) -> None:
    key = keys.generate(algorithm)
    path = tmp_path / "k.pem"
    keys.save_private(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = keys.load_private(path)
    assert loaded.keyid == key.keyid
    assert loaded.algorithm == keys.Algorithm(algorithm)
    signature = loaded.sign(b"message")
    key.verifying.verify(signature, b"message")
    keys.save_public(tmp_path / "k.pub", key.verifying)
    assert keys.load_public(tmp_path / "k.pub").keyid == key.keyid
    assert keys.load_public(path).keyid == key.keyid


def test_key_id_is_sha256_of_the_spki_der() -> None:
    key = keys.generate()
    assert key.keyid == hashlib.sha256(key.verifying.der()).hexdigest()
    assert key.keyid == key.keyid.lower() and len(key.keyid) == 64


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    keys.save_private(path, keys.generate())
    before = path.read_bytes()
    with pytest.raises(InputError, match="refusing to overwrite"):
        keys.save_private(path, keys.generate())
    assert path.read_bytes() == before


def test_passphrase_from_argument_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = keys.generate()
    path = tmp_path / "enc.pem"
    keys.save_private(path, key, passphrase="correct horse")
    assert b"ENCRYPTED" in path.read_bytes()
    with pytest.raises(InputError, match="encrypted"):
        keys.load_private(path)
    with pytest.raises(InputError, match="wrong passphrase"):
        keys.load_private(path, passphrase="wrong")
    assert keys.load_private(path, passphrase="correct horse").keyid == key.keyid
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "correct horse")
    assert keys.load_private(path).keyid == key.keyid
    env_path = tmp_path / "env.pem"
    keys.save_private(env_path, key)
    assert b"ENCRYPTED" in env_path.read_bytes()


def test_bad_key_files(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError) as caught:  # bad input: exit 2, not 5
        keys.load_private(tmp_path / "missing.pem")
    assert caught.value.exit_code == 2
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    with pytest.raises(InputError):
        keys.load_private(junk)
    with pytest.raises(InputError):
        keys.load_public(junk)


def test_wrong_signature_is_refused() -> None:
    key = keys.generate("p256")
    with pytest.raises(SignatureError):
        key.verifying.verify(key.sign(b"a"), b"b")
    assert not keys.generate().verifying.is_valid_signature(b"\x00" * 64, b"a")


# --- the work factor and the public key's mode (issue 18 item 15) -------------------------


def _der_integers_and_oids(pem: bytes) -> tuple[list[int], list[str]]:
    """The INTEGERs and OBJECT IDENTIFIERs of a PEM's DER, in order (a minimal reader)."""
    import base64

    body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    der = base64.b64decode(body)
    integers: list[int] = []
    oids: list[str] = []

    def walk(data: bytes) -> None:
        i = 0
        while i < len(data):
            tag, length = data[i], data[i + 1]
            i += 2
            if length & 0x80:
                n = length & 0x7F
                length = int.from_bytes(data[i : i + n], "big")
                i += n
            value = data[i : i + length]
            i += length
            if tag == 0x30:
                walk(value)
            elif tag == 0x02:
                integers.append(int.from_bytes(value, "big"))
            elif tag == 0x06:
                arcs = [value[0] // 40, value[0] % 40]
                arc = 0
                for byte in value[1:]:
                    arc = (arc << 7) | (byte & 0x7F)
                    if not byte & 0x80:
                        arcs.append(arc)
                        arc = 0
                oids.append(".".join(map(str, arcs)))

    walk(der)
    return integers, oids


@pytest.mark.parametrize("algorithm", ["ed25519", "p256"])
def test_encrypted_keys_use_pbkdf2_sha256_at_600000_iterations(
    tmp_path: Path, algorithm: str
) -> None:
    key = keys.generate(algorithm)
    path = tmp_path / "enc.pem"
    keys.save_private(path, key, passphrase="correct horse")
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    integers, oids = _der_integers_and_oids(pem)
    assert oids == [
        "1.2.840.113549.1.5.13",  # PBES2
        "1.2.840.113549.1.5.12",  # PBKDF2
        "1.2.840.113549.2.9",  # hmacWithSHA256
        "2.16.840.1.101.3.4.1.42",  # AES-256-CBC
    ]
    assert integers == [600_000, 32]
    assert keys.load_private(path, passphrase="correct horse").keyid == key.keyid
    with pytest.raises(InputError, match="wrong passphrase"):
        keys.load_private(path, passphrase="wrong")


def test_openssl_decrypts_the_keys_written(tmp_path: Path) -> None:
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl here")
    key = keys.generate()
    path = tmp_path / "enc.pem"
    keys.save_private(path, key, passphrase="pw")
    plain = subprocess.run(
        [openssl, "pkcs8", "-in", str(path), "-passin", "pass:pw"],
        check=True,
        capture_output=True,
    ).stdout
    (tmp_path / "plain.pem").write_bytes(plain)
    assert keys.load_private(tmp_path / "plain.pem").keyid == key.keyid


def test_keys_encrypted_the_old_way_are_still_read(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = keys.generate()
    old = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"old secret"),  # PBKDF2 at 2,048
    )
    path = tmp_path / "old.pem"
    path.write_bytes(old)
    integers, _ = _der_integers_and_oids(old)
    assert 2048 in integers
    assert keys.load_private(path, passphrase="old secret").keyid == key.keyid


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_public_key_files_are_0644_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    import os

    key = keys.generate()
    previous = os.umask(umask)
    try:
        keys.save_public(tmp_path / "k.pub", key.verifying)
        keys.save_public(tmp_path / "k.pub", key.verifying)  # rewritten: still 0644
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "k.pub").stat().st_mode) == 0o644
    assert keys.load_public(tmp_path / "k.pub").keyid == key.keyid

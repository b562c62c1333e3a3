"""Key generation, PEM files, key ids."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from provenance.crypto import keys
from provenance.errors import InputError, NotFoundError, SignatureError


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
    with pytest.raises(NotFoundError):
        keys.load_private(tmp_path / "missing.pem")
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

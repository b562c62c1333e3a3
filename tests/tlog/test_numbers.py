"""Numbers in the C2SP text formats: ASCII decimal, no leading zero, a uint64 (issue 18
item 2). `int()` takes any Unicode digit; these parsers must not."""

from __future__ import annotations

import base64
import hashlib

import pytest

from provenance.errors import InputError, IntegrityError
from provenance.tlog import note
from provenance.tlog.numbers import decimal, hex32
from provenance.tlog.proof import format_proof, parse_proof
from provenance.tlog.tiles import parse_path

NOT_ASCII_DECIMAL = ["²", "٣", "१२", "1²", "01", "00", "-1", "+1", "1_0", " 1", "1 ", "", "1e3"]


@pytest.mark.parametrize("text", [*NOT_ASCII_DECIMAL, str(2**64), "9" * 21])
def test_decimal_refuses_all_but_ascii_uint64(text: str) -> None:
    with pytest.raises(InputError):
        decimal(text, "size", InputError)


@pytest.mark.parametrize("text", ["0", "7", "10", str(2**64 - 1)])
def test_decimal_reads_ascii(text: str) -> None:
    assert decimal(text, "size", InputError) == int(text)


@pytest.mark.parametrize("text", ["0000000g", "1_2_3_4_", " 1234567", "ABCDEF12", "123456789"])
def test_hex32_refuses(text: str) -> None:
    with pytest.raises(IntegrityError):
        hex32(text, "key hash", IntegrityError)


def _receipt(index: str) -> str:
    cp = note.Checkpoint("example.com/log", 5, hashlib.sha256(b"r").digest())
    text = format_proof(3, [hashlib.sha256(b"p").digest()], cp.body() + "\n")
    return text.replace("index 3\n", f"index {index}\n")


@pytest.mark.parametrize("index", ["²", "٣", "03", "3²", "١"])
def test_a_receipt_index_in_other_digits_is_refused(index: str) -> None:
    with pytest.raises(InputError) as refused:
        parse_proof(_receipt(index))
    assert "receipt index" in refused.value.message
    assert parse_proof(_receipt("3")).index == 3


@pytest.mark.parametrize("size", ["٥", "²", "05", str(2**64)])
def test_a_checkpoint_size_in_other_digits_is_refused(size: str) -> None:
    root = base64.b64encode(hashlib.sha256(b"r").digest()).decode()
    with pytest.raises(IntegrityError):
        note.Checkpoint.parse(f"example.com/log\n{size}\n{root}\n")


@pytest.mark.parametrize("path", ["tile/٠/000", "tile/0/٠٠٠", "tile/0/000.p/²", "tile/0/x٠٠١/000"])
def test_tile_paths_in_other_digits_are_refused(path: str) -> None:
    with pytest.raises(InputError):
        parse_path(path)


def test_a_verifier_key_hash_must_be_lowercase_hex() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = ed25519.Ed25519PrivateKey.generate().public_key()
    verifier = note.Verifier.from_public_key("example.com/log", public)
    text = str(verifier)
    assert str(note.Verifier.parse(text)) == text
    name, hash_hex, key = text.split("+", 2)
    for bad in (hash_hex.upper(), "0x" + hash_hex[2:], hash_hex[:4] + "_" + hash_hex[5:]):
        if bad == hash_hex:
            continue
        with pytest.raises(InputError):
            note.Verifier.parse(f"{name}+{bad}+{key}")

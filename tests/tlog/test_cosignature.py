"""C2SP tlog-cosignature v1 (Ed25519): the construction of the spec, byte for byte."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from provenance.errors import InputError, IntegrityError
from provenance.tlog import cosignature, note

# A fixed key: the seed of golang.org/x/mod/sumdb/note's PeterNeumann test key, used
# here as a cosigner named as in the spec's example.
SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
NAME = "witness.example.com/w1"
TIME = 1679315147  # the time of the spec's example message
# The checkpoint of the spec's example.
BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
# The spec's example cosignature line (a key we do not hold): its layout is checked.
SPEC_LINE = (
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dl"
    "rDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)
# Ed25519 is deterministic: the line is fixed for this key, time and checkpoint.
PINNED = (
    "— witness.example.com/w1 1GorGwAAAABkGFDLJeR//pqzhnEKVvEm2wWbh2RJ6oru5+cUUfm5X9NnlaGr"
    "8aSH9QE5RVZD4QGlxl2F5UpVIIi94p178KLfqPPsAA==\n"
)


def _signer_text() -> str:
    private = ed25519.Ed25519PrivateKey.from_private_bytes(SEED)
    verifier = note.Verifier.from_public_key(NAME, private.public_key())
    return str(note.Signer(NAME, verifier.key_hash, private))


def test_a_cosignature_is_the_spec_construction_byte_for_byte() -> None:
    private = ed25519.Ed25519PrivateKey.from_private_bytes(SEED)
    public = private.public_key().public_bytes_raw()
    # Built here from the spec's words alone, not from the module.
    key_id = hashlib.sha256(NAME.encode() + b"\n" + b"\x04" + public).digest()[:4]
    signed = b"cosignature/v1\ntime 1679315147\n" + BODY.encode()
    blob = key_id + TIME.to_bytes(8, "big") + private.sign(signed)
    expected = "\u2014 " + NAME + " " + base64.b64encode(blob).decode() + "\n"

    cosigner = cosignature.Cosigner.parse(_signer_text())
    line = cosigner.signature_line(BODY, TIME)
    assert line == expected
    assert cosignature.message(BODY, TIME) == signed
    assert str(cosigner.key()) == (
        f"{NAME}+{key_id.hex()}+" + base64.b64encode(b"\x04" + public).decode()
    )


def test_the_pinned_line_for_the_fixed_key() -> None:
    line = cosignature.Cosigner.parse(_signer_text()).signature_line(BODY, TIME)
    assert line == PINNED


def test_the_spec_example_line_has_the_layout() -> None:
    _, [(name, blob)] = note.split(BODY + "\n" + SPEC_LINE + "\n")
    assert name == NAME
    assert len(blob) == 4 + 8 + 64
    assert struct.unpack(">Q", blob[4:12])[0] == TIME  # the spec's message says this time


def test_verify_accepts_its_own_and_ignores_others() -> None:
    cosigner = cosignature.Cosigner.parse(_signer_text())
    other_text, other_vkey = cosignature.generate("other.example/w")
    other = cosignature.Cosigner.parse(other_text)
    log_signer, _ = note.generate("example.com/behind-the-sofa")
    signed = note.sign(BODY, log_signer) + cosigner.signature_line(BODY, TIME)
    assert cosignature.verify(signed, [cosigner.key()]) == {NAME: TIME}
    assert cosignature.verify(signed, [cosignature.CosignerKey.parse(other_vkey)]) == {}
    both = signed + other.signature_line(BODY, TIME + 5)
    keys = [cosigner.key(), other.key()]
    assert cosignature.verify(both, keys) == {NAME: TIME, "other.example/w": TIME + 5}


def test_a_cosignature_is_not_a_note_signature_and_back() -> None:
    # The same key as a log key (type 0x01) and as a cosigner (0x04) have different ids.
    cosigner = cosignature.Cosigner.parse(_signer_text())
    as_log = note.Signer.parse(_signer_text())
    assert as_log.key_hash != cosigner.key().key_id
    log_note = note.sign(BODY, as_log)
    assert cosignature.verify(log_note, [cosigner.key()]) == {}
    with pytest.raises(IntegrityError):
        note.open(BODY + "\n" + cosigner.signature_line(BODY, TIME), [as_log.verifier()])


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, line: (body.replace("20852163", "20852164"), line),
        lambda body, line: (body + "extension line\n", line),
        lambda body, line: (body, line.replace("AAAABkGFDL", "AAAABkGFDM")),  # the time
    ],
)
def test_a_changed_body_or_time_fails(tamper: object) -> None:
    cosigner = cosignature.Cosigner.parse(_signer_text())
    line = cosigner.signature_line(BODY, TIME)
    assert "AAAABkGFDL" in line
    body, line = tamper(BODY, line)  # type: ignore[operator]
    with pytest.raises(IntegrityError):
        cosignature.verify(body + "\n" + line, [cosigner.key()])


def test_extension_lines_are_signed() -> None:
    cosigner = cosignature.Cosigner.parse(_signer_text())
    body = BODY + "— an extension\n"
    line = cosigner.signature_line(body, TIME)
    assert cosignature.verify(body + "\n" + line, [cosigner.key()]) == {NAME: TIME}


@pytest.mark.parametrize("timestamp", [0, -1, 2**63])
def test_timestamps_out_of_range_are_refused(timestamp: int) -> None:
    with pytest.raises(InputError):
        cosignature.message(BODY, timestamp)


def test_vkeys_round_trip_and_log_keys_are_refused() -> None:
    _, vkey = cosignature.generate("w.example/w2")
    assert str(cosignature.CosignerKey.parse(vkey)) == vkey
    _, log_vkey = note.generate("w.example/w2")
    with pytest.raises(InputError, match="0x04"):
        cosignature.CosignerKey.parse(log_vkey)
    name, ident, key = vkey.split("+", 2)
    with pytest.raises(InputError, match="key ID"):
        cosignature.CosignerKey.parse(f"{name}+{int(ident, 16) ^ 1:08x}+{key}")


@given(st.text(min_size=1, max_size=40), st.integers(1, 2**63 - 1))
def test_parse_never_crashes_and_round_trips(noise: str, timestamp: int) -> None:
    with contextlib.suppress(InputError):
        cosignature.CosignerKey.parse(noise)
    cosigner = cosignature.Cosigner.parse(_signer_text())
    line = cosigner.signature_line(BODY, timestamp)
    assert cosignature.verify(BODY + "\n" + line, [cosigner.key()]) == {NAME: timestamp}

"""DSSE v1 envelopes and in-toto Statement v1."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.crypto import envelope, keys
from provenance.crypto.envelope import Envelope
from provenance.errors import InputError, ProvenanceError, SignatureError


def test_pae_matches_the_dsse_example() -> None:
    assert (
        envelope.pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert envelope.pae("t", "é".encode()) == b"DSSEv1 1 t 2 " + "é".encode()


@pytest.mark.parametrize("algorithm", ["ed25519", "p256"])
def test_sign_and_verify(algorithm: str) -> None:
    key = keys.generate(algorithm)
    env = envelope.sign("text/plain", b"hello", [key])
    assert envelope.verified_keyids(env, {key.keyid: key.verifying}) == [key.keyid]
    again = Envelope.from_bytes(json.dumps(env.to_json()).encode())
    assert again == env


def test_several_signatures_and_unknown_hints() -> None:
    a, b, c = keys.generate(), keys.generate("p256"), keys.generate()
    env = envelope.add_signature(envelope.sign("t", b"x", [a]), b)
    env = envelope.add_signature(env, c)
    known = {a.keyid: a.verifying, b.keyid: b.verifying}
    assert envelope.verified_keyids(env, known) == [a.keyid, b.keyid]


def test_a_forged_signature_fails_the_envelope() -> None:
    a, b = keys.generate(), keys.generate()
    env = envelope.sign("t", b"x", [a])
    forged = Envelope(env.payload_type, env.payload, (envelope.Signature(b.keyid, b"\x01" * 64),))
    with pytest.raises(SignatureError):
        envelope.verified_keyids(forged, {b.keyid: b.verifying})
    changed = Envelope(env.payload_type, b"y", env.signatures)
    with pytest.raises(SignatureError):
        envelope.verified_keyids(changed, {a.keyid: a.verifying})
    retyped = Envelope("u", env.payload, env.signatures)
    with pytest.raises(SignatureError):
        envelope.verified_keyids(retyped, {a.keyid: a.verifying})


def test_url_safe_base64_is_accepted() -> None:
    key = keys.generate()
    payload = b"\xfb\xff" * 10
    env = envelope.sign("t", payload, [key])
    doc = env.to_json()
    doc["payload"] = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    assert Envelope.from_json(doc).payload == payload


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ([], InputError),
        ({"payload": "eA==", "payloadType": "t"}, SignatureError),
        ({"payload": "eA==", "payloadType": "t", "signatures": []}, SignatureError),
        ({"payload": "eA==", "payloadType": "", "signatures": [{"sig": "eA=="}]}, InputError),
        ({"payload": "%%%", "payloadType": "t", "signatures": [{"sig": "eA=="}]}, InputError),
        ({"payloadType": "t", "signatures": [{"sig": "eA=="}]}, InputError),
        ({"payload": "eA==", "payloadType": "t", "signatures": [{"keyid": "k"}]}, SignatureError),
        ({"payload": "eA==", "payloadType": "t", "signatures": [{"sig": ""}]}, SignatureError),
        ({"payload": "eA==", "payloadType": "t", "signatures": [], "x": 1}, InputError),
    ],
)
def test_malformed_envelopes(doc: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        Envelope.from_json(doc)  # type: ignore[arg-type]


def test_size_limits() -> None:
    big = base64.b64encode(b"x" * (envelope.MAX_PAYLOAD_BYTES + 1)).decode()
    with pytest.raises(InputError, match="limit"):
        Envelope.from_json({"payload": big, "payloadType": "t", "signatures": [{"sig": "eA=="}]})
    with pytest.raises(InputError, match="limit"):
        Envelope.from_bytes(b" " * (envelope.MAX_ENVELOPE_BYTES + 1))


def test_truncated_envelope_is_an_input_error() -> None:
    env = envelope.sign("t", b"x", [keys.generate()])
    data = json.dumps(env.to_json()).encode()
    with pytest.raises(InputError):
        Envelope.from_bytes(data[: len(data) // 2])


def test_statement_wrapping() -> None:
    key = keys.generate()
    env = envelope.sign_statement(
        [("serial:X1", "ab" * 32)], "https://example.com/p/v1", {"a": 1}, [key]
    )
    assert env.payload_type == envelope.INTOTO_PAYLOAD_TYPE
    statement = env.statement()
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"] == [{"name": "serial:X1", "digest": {"sha256": "ab" * 32}}]
    assert statement["predicate"] == {"a": 1}


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"_type": "x"}',
        b'{"_type": "https://in-toto.io/Statement/v1", "predicateType": "p", "predicate": {}}',
        b'{"_type": "https://in-toto.io/Statement/v1", "predicateType": "p", '
        b'"predicate": {}, "subject": [{"name": "a"}]}',
    ],
)
def test_bad_statements(payload: bytes) -> None:
    with pytest.raises(InputError):
        envelope.parse_statement(payload)


@given(st.binary(max_size=300))
def test_parsing_arbitrary_bytes_raises_only_provenance_errors(data: bytes) -> None:
    with contextlib.suppress(ProvenanceError):
        Envelope.from_bytes(data).statement()


@given(
    payload=st.binary(max_size=200),
    payload_type=st.one_of(st.just(envelope.INTOTO_PAYLOAD_TYPE), st.text(min_size=1)),
    keyids=st.lists(st.one_of(st.text(alphabet="0123456789abcdef"), st.text()), min_size=1),
)
def test_canonical_bytes_are_rfc8785(payload: bytes, payload_type: str, keyids: list[str]) -> None:
    """The envelope's canonical JSON (written out directly when its strings need no
    escaping) is what the canonical encoder gives, and its digest is computed once."""
    from provenance.crypto import canonical

    sigs = tuple(envelope.Signature(k, bytes([i % 256]) * 64) for i, k in enumerate(keyids))
    env = Envelope(payload_type, payload, sigs)
    try:
        expected = canonical.dumps(env.to_json())
    except InputError:  # lone surrogates: neither form can encode them
        with pytest.raises(InputError):
            env.canonical_bytes()
        return
    assert env.canonical_bytes() == expected
    assert env.digest() == canonical.sha256_hex(expected) == env.digest()

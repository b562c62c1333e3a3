"""Signed requests: RFC 9421 HTTP Message Signatures made with a key registered in the
ledger (the `http-message-signatures` package does the RFC; this module fixes the
profile both sides use).

A signature covers `@method`, `@path`, `@query` and, when there is a body, its
`content-digest` (RFC 9530, SHA-256), with the parameters `created`, `keyid` (the key's
id in the ledger: hex SHA-256 of its DER SubjectPublicKeyInfo), `alg` (`ed25519` or
`ecdsa-p256-sha256`), a random `nonce` and `tag="provenance"`. The server accepts a
signature created at most `MAX_AGE` seconds ago (and not in the future beyond a few
seconds of clock skew) and each nonce once: a replayed request is refused.
`@authority` is not covered, so a reverse proxy in front of the service may rewrite
the host.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import http_sf
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from provenance.crypto.keys import Algorithm, SigningKey, VerifyingKey
from provenance.errors import InputError

TAG = "provenance"
COVERED = ("@method", "@path", "@query")
MAX_AGE = 60
"""Seconds a signed request stays valid (the replay window)."""

_ALGORITHMS: dict[Algorithm, Any] = {
    Algorithm.ED25519: algorithms.ED25519,
    Algorithm.P256: algorithms.ECDSA_P256_SHA256,
}


class _Keys(HTTPSignatureKeyResolver):
    def __init__(self, private: Any = None, public: Any = None) -> None:
        self.private, self.public = private, public

    def resolve_private_key(self, key_id: str) -> Any:
        return self.private

    def resolve_public_key(self, key_id: str) -> Any:
        return self.public


def sign_request(request: Any, key: SigningKey, body: bytes | None = None) -> None:
    """Sign an outgoing request in place (`httpx.Request`: method, url, headers)."""
    signer = HTTPMessageSigner(
        signature_algorithm=_ALGORITHMS[key.algorithm], key_resolver=_Keys(key.private_key)
    )
    signer.sign(
        request,
        key_id=key.keyid,
        created=dt.datetime.now(dt.UTC),
        nonce=secrets.token_urlsafe(18),
        label="sig",
        tag=TAG,
        covered_component_ids=COVERED,
        body=body if body else None,
    )


def claimed_keyid(headers: Any) -> str:
    """The `keyid` a request's Signature-Input claims (not yet verified)."""
    value = headers.get("signature-input")
    if not value:
        raise InputError("the request is not signed (no Signature-Input)")
    try:
        parsed = http_sf.parse(value.encode("latin-1"), tltype="dictionary")
    except Exception as exc:
        raise InputError(f"malformed Signature-Input: {exc}") from exc
    if not isinstance(parsed, dict) or len(parsed) != 1:
        raise InputError("a request must carry exactly one signature")
    member: Any = next(iter(parsed.values()))
    params = member[1] if isinstance(member, tuple) and len(member) == 2 else None
    keyid = params.get("keyid") if isinstance(params, dict) else None
    if not isinstance(keyid, str) or not keyid:
        raise InputError("the request signature names no keyid")
    return keyid


@dataclass(frozen=True)
class Message:
    """A request as the verifier reads it: method, absolute URL, header lines."""

    method: str
    url: str
    headers: Any


@dataclass(frozen=True)
class Verified:
    keyid: str
    nonce: str
    created: int


def verify_request(message: Message, key: VerifyingKey, body: bytes) -> Verified:
    """Check a request's signature with `key`; `InputError` naming what is wrong."""
    verifier = HTTPMessageVerifier(
        signature_algorithm=_ALGORITHMS[key.algorithm], key_resolver=_Keys(public=key.public_key)
    )
    try:
        results = verifier.verify(
            message,
            max_age=dt.timedelta(seconds=MAX_AGE),
            expect_tag=TAG,
            require_components=COVERED,
            body=body,
        )
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        raise InputError(f"the request signature does not verify: {exc}") from exc
    (result,) = results
    params = result.parameters
    nonce = params.get("nonce")
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
        raise InputError("the request signature carries no nonce of 16 to 64 characters")
    if params.get("keyid") != key.keyid:
        raise InputError("the request signature's keyid is not the key that verified it")
    return Verified(key.keyid, nonce, int(params["created"]))

"""Cryptographic primitives: bytes in, bytes out; no database, no statements.

* `canonical`: canonical JSON (RFC 8785) and digests.
* `keys`: Ed25519 and ECDSA P-256 keys, PEM files, key ids, raw sign and verify.
* `envelope`: DSSE v1 envelopes carrying in-toto Statement v1 payloads.
* `signatures`: signature verification spread over worker processes.
"""

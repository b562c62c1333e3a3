"""One fuzz target per parser of outside input, and the seeds each starts from.

A target takes bytes and runs the parser the way the commands or the service do. It may
return anything or raise the library's own error (`ProvenanceError`: exit 2 to 5);
anything else (a `ValueError`, `RecursionError`, `KeyError`, ...) is an internal error,
exit 70, and a bug. Seeds are valid inputs, so mutations reach past the first check.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance.errors import ProvenanceError

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"
ORIGIN = "fuzz.example/ledger"

TOKENS: list[bytes] = [
    b"9" * 5000,
    b"[" * 5000,
    b"{" * 5000,
    b'{"a":' * 200,
    "\u00b2".encode(),
    "\u0663".encode(),
    "\u0967".encode(),
    b"-0",
    b"00",
    b"NaN",
    b"1e999999",
    b"\x00",
    b"\xff\xfe",
    b"\n\n",
    "\u2014 ".encode(),
    b"&a [*a]",
    b"<!DOCTYPE x [<!ENTITY e 'x'>]>",
    b"\r\n",
    b'"',
    b",",
    b"18446744073709551616",
]

"""Known-bad fragments the mutators insert: huge integers, deep nesting, non-ASCII
digits, NaN, NUL, a BOM, a note's signature prefix, a YAML alias, an XML entity."""


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], Any]
    seeds: Callable[[], list[bytes]]
    about: str


@functools.cache
def _keys() -> tuple[Any, Any, str]:
    """A fixed party key, a checkpoint signer and its verifier key (made once)."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from provenance.crypto.keys import SigningKey
    from provenance.tlog import note

    party = SigningKey.from_private_key(ed25519.Ed25519PrivateKey.from_private_bytes(b"\1" * 32))
    private = ed25519.Ed25519PrivateKey.from_private_bytes(b"\2" * 32)
    verifier = note.Verifier.from_public_key(ORIGIN, private.public_key())
    signer = note.Signer(ORIGIN, verifier.key_hash, private)
    return party, signer, str(verifier)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


# --- statements, envelopes ----------------------------------------------------------------

STATEMENTS: list[dict[str, Any]] = [
    {
        "kind": "shipment",
        "id": "SH-1",
        "exporter": "acme",
        "consignee": "lion",
        "end_user": "lion",
        "ship_date": "2026-02-01",
        "destination": "SG",
        "route": ["US", "SG"],
        "license": "NLR",
        "items": [
            {
                "product": "nvidia-h100-sxm5",
                "description": "NVIDIA H100 SXM5 80GB",
                "hs_code": "8473.30.1180",
                "quantity": 2,
                "serials": ["1654923000101", "1654923000102"],
                "unit_value": {"amount": "30000", "currency": "USD"},
            }
        ],
    },
    {
        "kind": "party",
        "id": "acme",
        "name": "Acme Export Ltd.",
        "roles": ["exporter"],
        "country": "SG",
        "headquarters": "SG",
    },
    {
        "kind": "resolution",
        "flag": "F-12-0",
        "status": "disputed",
        "reason": "the serials were re-flashed",
        "evidence": ["sha256:" + "ab" * 32],
    },
    {
        "kind": "receipt",
        "shipment": "SH-1",
        "serials": ["1654923000101"],
        "date": "2026-02-10",
        "country": "SG",
        "site": "Jurong West DC",
    },
]


def statement_yaml(data: bytes) -> Any:
    from provenance import documents
    from provenance.statements import kinds

    return kinds.from_document(documents.parse(data, "fuzz.yaml"))


def statement_json(data: bytes) -> Any:
    from provenance import documents
    from provenance.statements import kinds

    return kinds.from_document(documents.loads_json(data, "fuzz.json"))


def _statement_seeds_yaml() -> list[bytes]:
    import yaml

    return [yaml.safe_dump(s, sort_keys=False).encode() for s in STATEMENTS]


def _statement_seeds_json() -> list[bytes]:
    return [json.dumps(s).encode() for s in STATEMENTS]


def _envelopes() -> list[bytes]:
    from provenance.statements import kinds
    from provenance.statements.signing import sign

    party, _, _ = _keys()
    out = []
    for document in STATEMENTS:
        envelope = sign(kinds.from_document(document), [party])
        out.append(json.dumps(envelope.to_json()).encode())
    return out


def envelope(data: bytes) -> Any:
    """`ledger append`, `ledger import` and `POST /v1/entries` up to authorisation: the
    envelope, its payload, the kind's strict model, the subjects re-derived, signatures."""
    from provenance.crypto.envelope import Envelope, verified_keyids
    from provenance.ledger.admission import statement_of

    parsed = Envelope.from_bytes(data)
    party, _, _ = _keys()
    verified_keyids(parsed, {party.keyid: party.verifying})
    return statement_of(parsed)


def http_body(data: bytes) -> Any:
    """A body of `POST /v1/entries` as the service reads it (the same reader as append)."""
    from provenance.crypto.envelope import Envelope

    return Envelope.from_bytes(data).statement()


# --- signed notes, checkpoints, receipts, bundles ---------------------------------------


@functools.cache
def _ledger_objects() -> tuple[list[bytes], list[bytes], list[bytes]]:
    """A signed checkpoint, receipts and a bundle made by hand (no database): a genesis
    entry registering the party, then one more entry it signed."""
    from provenance.crypto.envelope import Envelope
    from provenance.offline.entries import leaf_bytes
    from provenance.statements import kinds
    from provenance.statements.signing import sign
    from provenance.tlog import merkle, note
    from provenance.tlog.proof import format_proof

    party, signer, _ = _keys()
    genesis = {
        "kind": "party",
        "id": "acme",
        "name": "Acme",
        "roles": ["operator", "exporter"],
        "country": "SG",
        "headquarters": "SG",
        "keys": [party.verifying.pem()],
    }
    envelopes = [sign(kinds.from_document(genesis), [party]), Envelope.from_bytes(_envelopes()[1])]
    leaves = [leaf_bytes(i, "2026-12-02T00:00:00Z", e) for i, e in enumerate(envelopes)]
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    checkpoint = note.Checkpoint(ORIGIN, len(leaves), merkle.root(hashes))
    signed = note.sign(checkpoint.body(), signer)
    receipts = [
        format_proof(i, merkle.inclusion_proof(i, hashes), signed, extra=leaf)
        for i, leaf in enumerate(leaves)
    ]
    whole = make_bundle_from_texts(receipts, [1])
    return [signed.encode()], [r.encode() for r in receipts], [json.dumps(whole).encode()]


def make_bundle_from_texts(receipts: list[str], requested: list[int]) -> dict[str, Any]:
    from provenance.offline.bundles import BUNDLE_FORMAT

    return {"format": BUNDLE_FORMAT, "origin": ORIGIN, "requested": requested, "receipts": receipts}


def signed_note(data: bytes) -> Any:
    from provenance.tlog import note

    _, _, verifier = _keys()
    return note.open_checkpoint(_text(data), [verifier])


def verifier_key(data: bytes) -> Any:
    from provenance.tlog import note

    return note.Verifier.parse(_text(data))


def receipt(data: bytes) -> Any:
    from provenance.offline.receipts import verify_receipt

    _, _, verifier = _keys()
    return verify_receipt(_text(data), [verifier])


def bundle(data: bytes) -> Any:
    """`provenance verify BUNDLE`: the file told apart, then the bundle verified."""
    from provenance.offline import bundles

    _, _, verifier = _keys()
    form, value = bundles.load(_text(data))
    if form == "receipt":
        return receipt(data)
    return bundles.verify_bundle(value, [verifier])


def tile_path(data: bytes) -> Any:
    from provenance.tlog.tiles import parse_path

    return parse_path(_text(data))


# --- files people hand in -----------------------------------------------------------------


def nvidia_smi(data: bytes) -> Any:
    from provenance.statements.inspection import evidence, parse_nvidia_smi

    return evidence(parse_nvidia_smi(data, source="fuzz.xml"), "fuzz.xml")


def csl_csv(data: bytes) -> Any:
    from provenance.screening.lists import parse_list

    return parse_list(data, format="csv", source="fuzz.csv")


def csl_json(data: bytes) -> Any:
    from provenance.screening.lists import parse_list

    return parse_list(data, format="json", source="fuzz.json")


def shipment_csv(data: bytes) -> Any:
    """`shipment import`: the CSV, then each shipment's statement."""
    from provenance.statements import kinds
    from provenance.statements.shipment_csv import parse_shipments_csv

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None  # read_shipments_csv refuses it before parsing (InputError)
    return [kinds.from_document(p.document) for p in parse_shipments_csv(text, source="f.csv")]


def _shipment_csv_seeds() -> list[bytes]:
    import io

    from provenance.statements.shipment_csv import write_shipments_csv

    out = io.StringIO()
    write_shipments_csv([STATEMENTS[0]], out)
    return [out.getvalue().encode()]


def report_json(data: bytes) -> Any:
    from provenance.reports.verify import loads

    return loads(data, "fuzz-report.json")


def _files(folder: Path, pattern: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted(folder.glob(pattern))]


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("statement-yaml", statement_yaml, _statement_seeds_yaml, "a YAML statement"),
        Target("statement-json", statement_json, _statement_seeds_json, "a JSON statement"),
        Target("envelope", envelope, _envelopes, "a DSSE envelope, payload and signatures"),
        Target("http-body", http_body, _envelopes, "a POST /v1/entries body"),
        Target("signed-note", signed_note, lambda: _ledger_objects()[0], "a signed checkpoint"),
        Target(
            "verifier-key",
            verifier_key,
            lambda: [_keys()[2].encode()],
            "a note verifier key",
        ),
        Target("receipt", receipt, lambda: _ledger_objects()[1], "a tlog-proof receipt"),
        Target(
            "bundle",
            bundle,
            lambda: _ledger_objects()[2] + _ledger_objects()[1][:1],
            "a bundle (or receipt) given to verify",
        ),
        Target(
            "tile-path",
            tile_path,
            lambda: [b"tile/0/x001/234", b"tile/3/000.p/17", b"tile/entries/x123/456.p/9"],
            "a tlog-tiles path",
        ),
        Target(
            "nvidia-smi",
            nvidia_smi,
            lambda: _files(ROOT / "tests/data/nvidia-smi", "*.xml"),
            "nvidia-smi -q -x output",
        ),
        Target("csl-csv", csl_csv, lambda: _files(ROOT / "tests/data/csl", "*.csv"), "a CSL CSV"),
        Target(
            "csl-json", csl_json, lambda: _files(ROOT / "tests/data/csl", "*.json"), "a CSL JSON"
        ),
        Target("shipment-csv", shipment_csv, _shipment_csv_seeds, "a shipments CSV"),
        Target(
            "report-json",
            report_json,
            lambda: _files(CORPUS, "report-*.json"),
            "a report, plain or in an envelope",
        ),
    )
}


def check(target: Target, data: bytes) -> None:
    """Run one input: the library's own errors are answers; anything else propagates."""
    with contextlib.suppress(ProvenanceError):
        target.run(data)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()

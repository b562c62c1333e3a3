"""Bulk admission in worker processes: statements parsed and signatures verified there,
keys registered by the batch itself checked in the main process, errors named by line."""

from __future__ import annotations

import pytest

from provenance.crypto import keys
from provenance.crypto.envelope import Envelope, Signature
from provenance.errors import InputError, SignatureError
from tests.conftest import World
from tests.ledger.test_log import party_doc

COUNT = 600  # above signatures.PARALLEL_THRESHOLD: the workers run


def forged(envelope: Envelope) -> Envelope:
    first = envelope.signatures[0]
    sig = bytes([first.sig[0] ^ 1]) + first.sig[1:]
    return Envelope(envelope.payload_type, envelope.payload, (Signature(first.keyid, sig),))


def test_a_forged_signature_by_a_key_the_batch_registers_is_refused(world: World) -> None:
    key = keys.generate()
    batch = [world.envelope(party_doc("acme", ["operator"], key), world.operator)]
    batch += [
        world.envelope(party_doc(f"q{i}", ["auditor"], keys.generate()), key) for i in range(COUNT)
    ]
    batch[400] = forged(batch[400])
    with pytest.raises(SignatureError, match="envelope 401: signature 0 does not verify"):
        world.ledger.import_envelopes(batch, workers=2)
    assert world.ledger.size() == 1


def test_a_key_registered_after_the_entry_it_signs_is_still_checked(world: World) -> None:
    """A signature by a key that only a later line registers is verified too (a forged
    one fails the envelope), as when the whole batch was parsed first."""
    key = keys.generate()
    batch = [
        world.envelope(party_doc(f"q{i}", ["auditor"], keys.generate()), world.operator)
        for i in range(COUNT)
    ]
    early = world.envelope(party_doc("early", ["auditor"], keys.generate()), world.operator)
    stray = forged(world.envelope(party_doc("stray", ["auditor"], keys.generate()), key))
    both = Envelope(early.payload_type, early.payload, (*early.signatures, stray.signatures[0]))
    batch[10] = both
    batch.append(world.envelope(party_doc("late", ["auditor"], key), world.operator))
    with pytest.raises(SignatureError, match="envelope 11: signature 1"):
        world.ledger.import_envelopes(batch, workers=2)
    assert world.ledger.size() == 1


def test_an_invalid_statement_is_named_and_nothing_is_written(world: World) -> None:
    batch = [
        world.envelope(party_doc(f"q{i}", ["auditor"], keys.generate()), world.operator)
        for i in range(COUNT)
    ]
    bad = batch[300]
    batch[300] = Envelope("text/plain", bad.payload, bad.signatures)
    with pytest.raises(InputError, match="envelope 301: unsupported payloadType"):
        world.ledger.import_envelopes(batch, workers=2)
    assert world.ledger.size() == 1
    results = world.ledger.import_envelopes(batch[:300], workers=2)
    assert [r.seq for r in results] == list(range(1, 301))


def test_a_streamed_import_is_one_transaction_over_its_rounds(world: World) -> None:
    """Rounds of `chunk` envelopes: a key registered in one round signs the next, labels
    name envelopes across rounds, and a failure in a late round writes nothing at all."""
    key = keys.generate()
    first = [world.envelope(party_doc("acme", ["operator"], key), world.operator)]
    later = [
        world.envelope(party_doc(f"q{i}", ["auditor"], keys.generate()), key) for i in range(7)
    ]
    labels: list[str] = []

    def stream(envelopes: list[Envelope]):  # type: ignore[no-untyped-def]
        for i, envelope in enumerate(envelopes):
            labels.append(f"line {i + 1}")
            yield envelope

    bad = [*first, *later[:5], forged(later[5]), later[6]]
    with pytest.raises(SignatureError, match="line 7: signature 0"):
        world.ledger.import_envelopes(stream(bad), labels=labels, chunk=3, workers=1)
    assert world.ledger.size() == 1
    labels.clear()
    results = world.ledger.import_envelopes(
        stream([*first, *later]), labels=labels, chunk=3, workers=1
    )
    assert [r.seq for r in results] == list(range(1, 9))
    assert results[-1].signer == "acme" and len(labels) == 8
    again = world.ledger.import_envelopes(iter(later[:2]), chunk=1, workers=1)
    assert [r.duplicate for r in again] == [True, True]

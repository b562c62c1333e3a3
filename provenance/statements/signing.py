"""Turning a statement into a signed envelope: an in-toto Statement v1 in a DSSE envelope."""

from __future__ import annotations

from provenance.crypto.envelope import Envelope, sign_statement
from provenance.crypto.keys import SigningKey
from provenance.statements import kinds
from provenance.statements.payloads import Statement


def sign(statement: Statement, signers: list[SigningKey]) -> Envelope:
    """Sign a statement as an in-toto Statement in a DSSE envelope."""
    return sign_statement(
        statement.subjects(),
        kinds.predicate_type(statement.kind),
        statement.predicate(),
        signers,
    )

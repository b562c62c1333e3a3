"""The ledger's own checkpoint keys: an announcement (`checkpoint-key`) is checked against
the ledger it is appended to; it writes no table (`ledger.checkpoint_keys` reads the
announcements from the entries themselves)."""

from __future__ import annotations

from sqlalchemy import select

from provenance.errors import InputError
from provenance.ledger import checkpoint_keys
from provenance.ledger.projections.writer import Accepted, Writer, handles
from provenance.ledger.tables import LedgerInfo
from provenance.statements.authority import Directory
from provenance.statements.payloads import CheckpointKeyStatement


@handles("checkpoint-key")
def _announce(writer: Writer, accepted: Accepted, directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, CheckpointKeyStatement)
    info = writer.execute(select(LedgerInfo.c.origin, LedgerInfo.c.verifier_key)).one()
    name = statement.verifier_key.split("+")[0]
    if name != info.origin:
        raise InputError(
            f"checkpoint-key: the key is named {name!r}, not the ledger's origin {info.origin!r}"
        )
    known = checkpoint_keys.all_keys(info.verifier_key, checkpoint_keys.rotations(writer.conn))
    if statement.verifier_key in known:
        raise InputError("checkpoint-key: that key is already one of the ledger's")
    if statement.replaces not in known:
        raise InputError("checkpoint-key: the key it replaces is not one of the ledger's")

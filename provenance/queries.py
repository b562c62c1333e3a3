"""Read-side queries over the projections, returned as JSON-ready dicts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from provenance.errors import NotFoundError
from provenance.ledger import Ledger
from provenance.store import PartyKeyRow, PartyRow


def _party_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "roles": row.roles.split(),
        "country": row.country,
        "headquarters": row.headquarters,
        "address": row.address,
        "registered_seq": row.registered_seq,
        "updated_seq": row.updated_seq,
    }


def party(ledger: Ledger, party_id: str) -> dict[str, Any]:
    """A party and its keys."""
    with ledger.store.read() as conn:
        row = conn.execute(select(PartyRow.__table__).where(PartyRow.id == party_id)).first()
        if row is None:
            raise NotFoundError(f"no party {party_id!r}", hint="provenance party list")
        key_rows = conn.execute(
            select(PartyKeyRow.__table__)
            .where(PartyKeyRow.party_id == party_id)
            .order_by(PartyKeyRow.registered_seq)
        ).all()
    data = _party_dict(row)
    data["keys"] = [
        {
            "keyid": k.keyid,
            "algorithm": k.algorithm,
            "registered_seq": k.registered_seq,
            "revoked_seq": k.revoked_seq,
            "revocation_reason": k.revocation_reason,
        }
        for k in key_rows
    ]
    return data


def parties(ledger: Ledger) -> list[dict[str, Any]]:
    with ledger.store.read() as conn:
        rows = conn.execute(select(PartyRow.__table__).order_by(PartyRow.id)).all()
    return [_party_dict(r) for r in rows]

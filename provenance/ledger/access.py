"""Who may read what: the one read policy of the ledger's contents.

The tree (checkpoints, tiles of hashes, inclusion and consistency proofs) is public:
hashes reveal no trade data. Entry contents are confidential and read only by a
registered, unrevoked key, under this table:

| reader (a role of the key's party) | reads |
|---|---|
| operator, auditor, regulator | every entry (and the entry bundles of the tiles) |
| any party | the entries it signed; its own registration and keys' entries |
| a shipment's exporter, consignee, end user, forwarder | it, and every entry about it |
| exporter, consignee, end user named by a license | that license |
| manufacturer | the entries about the serials it registered (their custody) |
| any party | the open flags whose raising entries it reads, by severity (`/v1/status`) |

`Reader` is who asks; `visible` filters entry numbers by the table, in bulk queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from provenance.errors import AuthorizationError
from provenance.ledger.database import in_chunks
from provenance.ledger.projections.tables import (
    ChipRow,
    LicenseRow,
    PartyKeyRow,
    PartyRow,
    ShipmentRow,
    SubjectRow,
)
from provenance.ledger.tables import Entry

READ_ALL = frozenset({"operator", "auditor", "regulator"})
"""Roles that read every entry."""


@dataclass(frozen=True)
class Reader:
    """The party behind a request's key, and its roles."""

    party: str
    keyid: str
    roles: frozenset[str]

    @property
    def reads_all(self) -> bool:
        return bool(self.roles & READ_ALL)


def reader(conn: Connection, keyid: str) -> tuple[Reader, bytes, str]:
    """The reader a key id names, with the key's DER and algorithm, as the key stands now.

    An unknown key, a revoked one, or one whose party is missing is refused
    (`AuthorizationError`).
    """
    row = conn.execute(
        select(
            PartyKeyRow.party_id,
            PartyKeyRow.public_key,
            PartyKeyRow.algorithm,
            PartyKeyRow.revoked_seq,
            PartyRow.roles,
        )
        .join(PartyRow, PartyRow.id == PartyKeyRow.party_id)
        .where(PartyKeyRow.keyid == keyid)
    ).first()
    if row is None:
        raise AuthorizationError(f"key {keyid[:16]} is not registered in this ledger")
    if row.revoked_seq is not None:
        raise AuthorizationError(f"key {keyid[:16]} was revoked at entry {row.revoked_seq}")
    return (
        Reader(row.party_id, keyid, frozenset(row.roles.split())),
        bytes(row.public_key),
        row.algorithm,
    )


def _shipments_of(conn: Connection, party: str) -> list[str]:
    return list(
        conn.execute(
            select(ShipmentRow.id).where(
                or_(
                    ShipmentRow.exporter == party,
                    ShipmentRow.consignee == party,
                    ShipmentRow.end_user == party,
                    ShipmentRow.forwarder == party,
                )
            )
        ).scalars()
    )


def may_read_shipment(conn: Connection, who: Reader, shipment_id: str) -> bool:
    if who.reads_all:
        return True
    row = conn.execute(select(ShipmentRow.__table__).where(ShipmentRow.id == shipment_id)).first()
    if row is None:
        return True  # not found is answered as such by the query
    return who.party in {row.exporter, row.consignee, row.end_user, row.forwarder}


def visible(conn: Connection, who: Reader, seqs: Iterable[int]) -> set[int]:
    """The entries of `seqs` that `who` may read."""
    wanted = sorted(set(seqs))
    if who.reads_all or not wanted:
        return set(wanted)
    lo, hi = wanted[0], wanted[-1]
    seen: set[int] = set(
        conn.execute(
            select(Entry.c.seq).where(
                Entry.c.signer_party == who.party, Entry.c.seq >= lo, Entry.c.seq <= hi
            )
        ).scalars()
    )
    names = [f"party/{who.party}"]
    names += [
        f"key/{k}"
        for k in conn.execute(
            select(PartyKeyRow.keyid).where(PartyKeyRow.party_id == who.party)
        ).scalars()
    ]
    names += [f"shipment/{s}" for s in _shipments_of(conn, who.party)]
    if "manufacturer" in who.roles:
        names += [
            f"chip/{s}"
            for s in conn.execute(
                select(ChipRow.serial).where(ChipRow.manufacturer == who.party)
            ).scalars()
        ]
    for chunk in in_chunks(names):
        seen.update(
            conn.execute(
                select(SubjectRow.seq).where(
                    SubjectRow.name.in_(chunk), SubjectRow.seq >= lo, SubjectRow.seq <= hi
                )
            ).scalars()
        )
    seen.update(
        conn.execute(
            select(LicenseRow.seq).where(
                or_(
                    LicenseRow.exporter == who.party,
                    LicenseRow.consignee == who.party,
                    LicenseRow.end_user == who.party,
                ),
                LicenseRow.seq >= lo,
                LicenseRow.seq <= hi,
            )
        ).scalars()
    )
    return seen & set(wanted)


def require_read_all(who: Reader, what: str) -> None:
    """Refuse `what` to a reader whose roles do not read every entry."""
    if not who.reads_all:
        raise AuthorizationError(
            f"{what} is for the operator, auditors and regulators; "
            f"{who.party} ({', '.join(sorted(who.roles))}) may not read it"
        )

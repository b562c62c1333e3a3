"""Projections of the evidence the 2026 rule and the chip-tracking proposals ask for: lab
tests, KYC attestations and landmarks' location measurements."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from provenance.errors import AuthorizationError
from provenance.ledger.projections.tables import (
    KycRow,
    LabResultRow,
    LabTestRow,
    LocationRow,
    PartyRow,
)
from provenance.ledger.projections.writer import Accepted, Writer, handles, refused
from provenance.statements.authority import Directory, require_signer
from provenance.statements.payloads import KycStatement, LabTestStatement, LocationStatement


@handles("lab-test")
def _lab_test(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, LabTestStatement)
    writer.insert(
        LabTestRow,
        {
            "seq": accepted.seq,
            "lab": accepted.signer.party,
            "product": statement.product,
            "date": statement.date,
            "country": statement.country,
            "facility": statement.facility,
        },
    )
    for result in statement.results:
        writer.insert(
            LabResultRow,
            {
                "seq": accepted.seq,
                "serial": result.serial,
                "product_name": result.identity.product_name,
                "pci_device_id": result.identity.pci_device_id,
                "uuid": result.identity.uuid,
                "tpp": format(result.tpp, "f"),
                "memory_bandwidth_gbps": result.memory_bandwidth_gbps,
            },
        )


@handles("kyc")
def _kyc(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, KycStatement)
    require_signer("kyc", "party", statement.party, accepted.signer)
    writer.insert(
        KycRow,
        {
            "seq": accepted.seq,
            "party": statement.party,
            "date": statement.date,
            "valid_from": statement.valid_from,
            "valid_until": statement.valid_until,
            "complete": statement.complete,
            "authorised_users": statement.authorised_users,
            "remote_access": statement.remote_access,
        },
    )


@handles("location")
def _location(writer: Writer, accepted: Accepted, _directory: Directory) -> None:
    statement = accepted.statement
    assert isinstance(statement, LocationStatement)
    require_signer("location", "landmark", statement.landmark, accepted.signer)
    where = writer.execute(
        select(PartyRow.latitude, PartyRow.longitude).where(PartyRow.id == statement.landmark)
    ).first()
    if where is None or where.latitude is None or where.longitude is None:
        raise AuthorizationError(
            f"location: landmark: {statement.landmark!r} has no registered coordinates",
            hint="a landmark registers its coordinates in its party statement (location)",
        )
    replayed = writer.execute(
        select(LocationRow.seq).where(
            LocationRow.landmark == statement.landmark, LocationRow.nonce == statement.nonce
        )
    ).first()
    if replayed is not None:
        raise refused(
            "location",
            "nonce",
            f"landmark {statement.landmark!r} already used this nonce (entry {replayed.seq}): "
            "a replayed answer measures nothing",
        )
    writer.insert(
        LocationRow,
        {
            "seq": accepted.seq,
            "landmark": statement.landmark,
            "serial": statement.serial,
            "nonce": statement.nonce,
            "rtt_ms": format(statement.rtt_ms, "f"),
            "measured_at": statement.measured_at.astimezone(dt.UTC),
            "latitude": where.latitude,
            "longitude": where.longitude,
            "product_name": statement.answer.product_name,
            "pci_device_id": statement.answer.pci_device_id,
        },
    )

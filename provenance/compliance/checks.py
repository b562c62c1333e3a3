"""Checking shipments: pick the pack in force, gather facts, evaluate, record.

`Checker.determine` evaluates a batch of shipments (each under the pack in force on
its ship date, unless one is named), on one process a core for large batches, and
with `sign_with` signs each determination where it was evaluated; `Checker.record`
signs those not signed yet with the operator key and appends them all in one
transaction, after which the flags they raised are in the `flags` projection with
their ids.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import select

from provenance.compliance.engine import Determination, evaluate, json_value
from provenance.compliance.facts import Facts, Reference
from provenance.compliance.packs import Library, Pack
from provenance.compliance.vocabulary import sample
from provenance.crypto.envelope import Envelope
from provenance.crypto.keys import SigningKey
from provenance.crypto.signatures import cores
from provenance.errors import NotFoundError
from provenance.ledger.database import in_chunks
from provenance.ledger.log import Ledger
from provenance.ledger.projections.tables import FlagRow, ScreeningSnapshotRow, ShipmentRow
from provenance.offline.entries import Appended, Receipt
from provenance.statements.payloads import DeterminationStatement

Progress = Callable[[int], None]


@dataclass
class Checker:
    ledger: Ledger
    library: Library
    as_of: dt.date
    _facts: dict[str, Facts] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=lambda: {"facts": 0.0, "rules": 0.0})
    _sign_with: list[SigningKey] = field(default_factory=list)

    @classmethod
    def open(
        cls, ledger: Ledger, rules: str | None = None, as_of: dt.date | None = None
    ) -> Checker:
        return cls(ledger, Library.load(rules), as_of or dt.datetime.now(dt.UTC).date())

    def facts(self, pack: Pack) -> Facts:
        if pack.id not in self._facts:
            self._facts[pack.id] = Facts(
                self.ledger, Reference.from_pack(pack.reference), pack.parameters, self.as_of
            )
        return self._facts[pack.id]

    def screening_digest(self) -> str | None:
        with self.ledger.store.read() as conn:
            return conn.execute(
                select(ScreeningSnapshotRow.digest)
                .order_by(ScreeningSnapshotRow.seq.desc())
                .limit(1)
            ).scalar()

    def determine(
        self,
        shipment_ids: Sequence[str],
        *,
        pack_id: str | None = None,
        explain: bool = False,
        progress: Progress | None = None,
        batch: int = 500,
        workers: int | None = None,
        sign_with: Sequence[SigningKey] = (),
    ) -> list[Determination]:
        """Evaluate each shipment (in the order given); from PARALLEL_BATCHES batches on,
        on `workers` processes (default: one a core). With `sign_with`, each determination
        is also signed where it was evaluated (in the workers), for `record` to append."""
        with self.ledger.store.read() as conn:
            dates: dict[str, dt.date] = {}
            voided: dict[str, int] = {}
            for chunk in in_chunks(shipment_ids):
                rows = conn.execute(
                    select(ShipmentRow.id, ShipmentRow.ship_date, ShipmentRow.voided_seq).where(
                        ShipmentRow.id.in_(chunk)
                    )
                )
                for r in rows:
                    dates[r.id] = r.ship_date
                    if r.voided_seq is not None:
                        voided[r.id] = r.voided_seq
        for shipment_id in shipment_ids:
            if shipment_id not in dates:
                raise NotFoundError(f"no shipment {shipment_id!r}", hint="provenance shipment list")
            if shipment_id in voided:
                raise NotFoundError(
                    f"shipment {shipment_id!r} is void (entry {voided[shipment_id]}): a voided "
                    "shipment is not judged",
                    hint=f"provenance shipment show {shipment_id}",
                )
        screening = self.screening_digest()
        by_pack: dict[str, list[str]] = defaultdict(list)
        named = self.library.for_determination(pack_id) if pack_id else None
        for shipment_id in shipment_ids:
            pack = named or self.library.in_force(dates[shipment_id])
            by_pack[pack.id].append(shipment_id)
        results: dict[str, Determination] = {}
        self._sign_with = list(sign_with)
        jobs = [
            (chosen_id, ids[start : start + batch], screening, explain)
            for chosen_id, ids in by_pack.items()
            for start in range(0, len(ids), batch)
        ]
        wanted = workers if workers is not None else cores()
        workers = min(wanted, len(jobs)) if len(jobs) >= PARALLEL_BATCHES else 1
        if workers > 1:
            # Each worker gathers facts from its own connection and evaluates; the
            # compiled packs are inherited by fork (CEL programs do not pickle).
            for pack_id in {job[0] for job in jobs}:
                self.facts(self.library.get(pack_id)).products()  # loaded once, inherited
            global _WORKER
            _WORKER = self
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                for done, facts_s, rules_s in pool.map(_determine_batch, jobs):
                    results.update((d.shipment, d) for d in done)
                    self.timing["facts"] += facts_s
                    self.timing["rules"] += rules_s
                    if progress:
                        progress(len(done))
            _WORKER = None
        else:
            for job in jobs:
                done, facts_s, rules_s = self._batch(*job)
                results.update((d.shipment, d) for d in done)
                self.timing["facts"] += facts_s
                self.timing["rules"] += rules_s
                if progress:
                    progress(len(done))
        return [results[s] for s in shipment_ids]

    def _batch(
        self, pack_id: str, ids: Sequence[str], screening: str | None, explain: bool
    ) -> tuple[list[Determination], float, float]:
        pack = self.library.get(pack_id)
        begin = time.perf_counter()
        gathered = self.facts(pack).gather(ids)
        middle = time.perf_counter()
        done = [
            evaluate(pack, one, evaluated_on=self.as_of, screening=screening, explain=explain)
            for one in gathered
        ]
        if self._sign_with:
            from provenance.statements.signing import sign

            keyids = tuple(k.keyid for k in self._sign_with)
            for determination in done:
                # the envelope alone comes back from a worker: a model pickles slowly
                determination.signed = (keyids, sign(statement(determination), self._sign_with))
        return done, middle - begin, time.perf_counter() - middle

    def record(
        self, determinations: Sequence[Determination], signers: list[SigningKey]
    ) -> list[Appended]:
        """Sign each determination with the operator's key and append them, all or nothing
        (those `determine` signed with the same keys are appended as they were signed)."""
        from provenance.statements.signing import sign

        keyids = tuple(k.keyid for k in signers)
        statements: list[DeterminationStatement] = []
        envelopes: list[Envelope] = []
        for determination in determinations:
            made = statement(determination)
            if determination.signed is not None and determination.signed[0] == keyids:
                envelope = determination.signed[1]
            else:
                envelope = sign(made, signers)
            statements.append(made)
            envelopes.append(envelope)
        return self.ledger.append_many(envelopes, parsed=statements)

    def described(
        self, determinations: Sequence[Determination], appended: Sequence[Appended]
    ) -> list[dict[str, Any]]:
        """The recorded determinations as JSON: each with its entry `seq`, whether it was
        already in the ledger (`duplicate`), and the id and status of each flag."""
        out = []
        raised_on = self._flags_of([d.shipment for d in determinations])
        for determination, entry in zip(determinations, appended, strict=True):
            data = determination.to_json()
            data["seq"] = entry.seq
            data["duplicate"] = entry.duplicate
            raised = raised_on.get(determination.shipment, {})
            for flag in data["flags"]:
                found = raised.get((flag["rule"], flag["line"]))
                if found:
                    flag["id"], flag["status"] = found
            out.append(data)
        return out

    def flags_of(self, shipment_id: str) -> dict[tuple[str, int | None], tuple[str, str]]:
        """(rule, line) -> (flag id, status) of every flag raised on a shipment."""
        return self._flags_of([shipment_id]).get(shipment_id, {})

    def _flags_of(
        self, shipment_ids: Sequence[str]
    ) -> dict[str, dict[tuple[str, int | None], tuple[str, str]]]:
        """`flags_of` for many shipments, one query a chunk."""
        found: dict[str, dict[tuple[str, int | None], tuple[str, str]]] = defaultdict(dict)
        subjects = [f"shipment/{s}" for s in dict.fromkeys(shipment_ids)]
        with self.ledger.store.read() as conn:
            for chunk in in_chunks(subjects):
                for r in conn.execute(
                    select(
                        FlagRow.subject, FlagRow.id, FlagRow.rule, FlagRow.line, FlagRow.status
                    ).where(FlagRow.subject.in_(chunk))
                ):
                    found[r.subject.removeprefix("shipment/")][(r.rule, r.line)] = (r.id, r.status)
        return found


PARALLEL_BATCHES = 4
"""From this many batches on, `determine` spreads them over one process a core."""

_WORKER: Checker | None = None
"""The checker a forked worker evaluates with (set by `determine` before the fork)."""


def _determine_batch(
    job: tuple[str, Sequence[str], str | None, bool],
) -> tuple[list[Determination], float, float]:
    assert _WORKER is not None
    return _WORKER._batch(*job)


def statement(determination: Determination) -> DeterminationStatement:
    data = determination.to_json()
    data.pop("explain", None)
    return DeterminationStatement.model_validate(
        {
            "shipment": data["shipment"],
            "shipment_seq": data["shipment_seq"],
            "evaluated_on": data["evaluated_on"],
            "pack": data["pack"],
            "screening_list": data["screening_list"],
            # evaluate() made these JSON values already (no floats): not walked again
            "items": data["items"],
            "license": data["license"],
            "flags": data["flags"],
            "verdict": data["verdict"],
        }
    )


# --- classification alone ----------------------------------------------------------------


@dataclass(frozen=True)
class Classification:
    eccn: str
    rule: str | None
    tpp: float
    pd: float
    pack: Pack
    facts: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        compiled = self.pack.rule(self.rule) if self.rule else None
        return {
            "eccn": self.eccn,
            "rule": self.rule,
            "why": compiled.rule.when if compiled else None,
            "note": getattr(compiled.rule, "note", "") if compiled else "",
            "sources": list(compiled.rule.sources) if compiled else [],
            "tpp": json_value(self.tpp),
            "pd": json_value(self.pd),
            "pack": {"id": self.pack.id, "digest": self.pack.digest},
            "facts": json_value(self.facts),
        }


def classify(
    pack: Pack,
    *,
    tpp: Decimal,
    die_area: Decimal | None,
    datacenter: bool,
    interconnect: int = 0,
    memory_bandwidth: int = 0,
    product: str = "",
    hs_class: str = "accelerator",
) -> Classification:
    """The ECCN of a chip with these figures under `pack` (its classification rules only)."""
    # As the catalog computes it: exact quotient rounded down to 6 places.
    pd = float((tpp / die_area).quantize(Decimal("0.000001"), ROUND_DOWN)) if die_area else 0.0
    facts = sample(pack.parameters)
    item = facts["item"]
    item.update(
        {
            "product": product,
            "declared_product": product,
            "catalog_known": True,
            "declared_known": True,
            "tpp": float(tpp),
            "pd": pd,
            "die_area_mm2": float(die_area or 0),
            "datacenter": datacenter,
            "interconnect_gbps": interconnect,
            "memory_bandwidth_gbps": memory_bandwidth,
            "hs_class": hs_class,
        }
    )
    for compiled in pack.classification:
        if compiled.program.execute(facts):
            seen = {name: item.get(name.split(".", 1)[1]) for name in compiled.names}
            return Classification(compiled.rule.eccn, compiled.rule.id, float(tpp), pd, pack, seen)  # type: ignore[union-attr]
    return Classification("unclassified", None, float(tpp), pd, pack, {})


# --- what the commands ask for ------------------------------------------------------------


def every_shipment(db: str | None) -> list[str]:
    """The ids of every shipment in the ledger but the voided, oldest first (what
    `check --all` checks)."""
    from provenance.ledger import queries

    with Ledger.open(db) as ledger:
        return [s["id"] for s in reversed(queries.shipments(ledger)) if s["status"] != "void"]


def check_shipments(
    db: str | None,
    shipment_ids: Sequence[str],
    *,
    pack_id: str | None = None,
    explain: bool = False,
    dry_run: bool = False,
    as_of: dt.date | None = None,
    operator_key: str | None = None,
    checkpoint_key: str | None = None,
    rules_dir: str | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Evaluate shipments and, unless a dry run, append the determinations signed by the
    operator key; return them as JSON (with their entries and flag ids when appended)."""
    from provenance.crypto import keys
    from provenance.errors import InputError
    from provenance.ledger.setup import open_for_append, operator_key_path

    if not shipment_ids:
        raise InputError("name a shipment to check", hint="provenance check SHIPMENT_ID, or --all")
    ledger = Ledger.open(db) if dry_run else open_for_append(db, checkpoint_key)
    with ledger:
        checker = Checker.open(ledger, rules_dir, as_of)
        signers = [] if dry_run else [keys.load_private(operator_key_path(ledger, operator_key))]
        determinations = checker.determine(
            shipment_ids, pack_id=pack_id, explain=explain, progress=progress, sign_with=signers
        )
        if dry_run:
            return [d.to_json() for d in determinations]
        return checker.described(determinations, checker.record(determinations, signers))


@dataclass(frozen=True)
class Registered:
    """A shipment appended, and what the rules said of it (None when not checked)."""

    appended: Appended
    receipt: Receipt
    determination: dict[str, Any] | None


def register_shipment(
    db: str | None,
    envelope: Envelope,
    *,
    check: bool = True,
    operator_key: str | None = None,
    checkpoint_key: str | None = None,
    dry_run: bool = False,
) -> Registered:
    """Append a signed shipment (or an amendment of one), then check it against the pack
    in force. The determination
    is appended too when the operator key is at hand; otherwise the check is a dry run.

    With `dry_run` all of it (the shipment, the check, the determination signed by the
    operator key) happens in one transaction that is rolled back: what the real
    registration would do and say, and nothing written."""
    from provenance.crypto import keys
    from provenance.ledger.setup import open_for_append, operator_key_path

    predicate = envelope.statement()["predicate"]
    # a shipment, or an amendment carrying the corrected shipment (judged at once too)
    shipment_id = predicate["shipment"]["id"] if "corrects" in predicate else predicate["id"]
    if dry_run:
        with open_for_append(db, checkpoint_key, dry_run=True) as ledger:
            appended, receipt = ledger.append(envelope)
            if not check:
                return Registered(appended, receipt, None)
            path = operator_key_path(ledger, operator_key)
            checker = Checker.open(ledger)
            determinations = checker.determine([shipment_id])
            if not path.exists():
                return Registered(appended, receipt, determinations[0].to_json())
            recorded = checker.record(determinations, [keys.load_private(path)])
            return Registered(appended, receipt, checker.described(determinations, recorded)[0])
    with open_for_append(db, checkpoint_key) as ledger:
        appended, receipt = ledger.append(envelope)
        signer = operator_key_path(ledger, operator_key) if check else None
    if signer is None:
        return Registered(appended, receipt, None)
    determination = check_shipments(
        db,
        [shipment_id],
        dry_run=not signer.exists(),
        operator_key=str(signer),
        checkpoint_key=checkpoint_key,
    )[0]
    return Registered(appended, receipt, determination)


@dataclass(frozen=True)
class ChipFigures:
    """A chip described by its figures, as a user typed them (numbers as text)."""

    tpp: str | None
    die_area: str | None = None
    datacenter: bool = True
    interconnect: int = 0
    memory_bandwidth: int = 0


def classify_figures(
    figures: ChipFigures | None = None,
    *,
    product_id: str | None = None,
    on: dt.date | None = None,
    pack_id: str | None = None,
    rules_dir: str | None = None,
) -> Classification:
    """Classify a catalog product, or a chip given by its figures, under the pack named or
    the one in force on `on` (default today)."""
    from decimal import InvalidOperation

    from provenance.errors import InputError
    from provenance.statements.catalog import load_catalog

    library = Library.load(rules_dir)
    today = dt.datetime.now(dt.UTC).date()
    pack = library.get(pack_id) if pack_id else library.in_force(on or today)
    given = figures or ChipFigures(None)
    if product_id:
        if given.tpp or given.die_area:
            raise InputError("give --product, or --tpp and --die-area, not both")
        product = load_catalog().require(product_id)
        return classify(
            pack,
            tpp=product.tpp,
            die_area=product.die_area_mm2,
            datacenter=product.datacenter,
            interconnect=product.interconnect_gbps or 0,
            memory_bandwidth=product.memory_bandwidth_gbps or 0,
            product=product.id,
        )
    if given.tpp is None:
        raise InputError("give --product ID, or --tpp N (with --die-area MM2)")
    try:
        tpp_value = Decimal(given.tpp)
        area = Decimal(given.die_area) if given.die_area else None
    except InvalidOperation:
        raise InputError("--tpp and --die-area must be numbers") from None
    if tpp_value < 0 or (area is not None and area <= 0):
        raise InputError("--tpp must be >= 0 and --die-area > 0")
    return classify(
        pack,
        tpp=tpp_value,
        die_area=area,
        datacenter=given.datacenter,
        interconnect=given.interconnect,
        memory_bandwidth=given.memory_bandwidth,
    )


@dataclass(frozen=True)
class PartyScreening:
    """A registered party screened as the rules see it on a date: its own matches, and
    whether listed owners make it restricted under the Affiliates rule (the chain of
    owners that does)."""

    party: str
    on: dt.date
    pack: str
    matches: list[Any]
    affiliate_of: list[str]
    affiliate_policies: list[str]
    ownership_chain: list[str]
    affiliates_rule: str
    """'in force', 'suspended', 'not yet in force' on the date, or 'not in the pack'."""

    @property
    def restricted(self) -> bool:
        """Matched itself, or owned 50% or more by listed parties while the rule binds."""
        return bool(self.matches) or (
            bool(self.affiliate_of) and self.affiliates_rule == "in force"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "date": self.on.isoformat(),
            "pack": self.pack,
            "matches": [m.to_json() for m in self.matches],
            "affiliate_of": self.affiliate_of,
            "affiliate_policies": self.affiliate_policies,
            "ownership_chain": self.ownership_chain,
            "affiliates_rule": self.affiliates_rule,
            "restricted": self.restricted,
        }


def _affiliates_rule(params: dict[str, Any], on: dt.date) -> str:
    try:
        start = dt.date.fromisoformat(str(params["affiliates_from"]))
        paused = dt.date.fromisoformat(str(params["affiliates_suspended_from"]))
        resumed = dt.date.fromisoformat(str(params["affiliates_suspended_until"]))
    except (KeyError, ValueError):
        return "not in the pack"
    if on < start:
        return "not yet in force"
    return "suspended" if paused <= on <= resumed else "in force"


def screen_party(
    ledger: Ledger, party_id: str, *, on: dt.date | None = None, rules: str | None = None
) -> PartyScreening:
    """Screen a registered party and its declared owners against the latest list, under
    the pack in force on `on` (default: today): what the rules read as the party's
    `screening_lists` and `affiliate_of`, with the ownership chain."""
    from provenance.ledger.projections.tables import PartyRow

    checker = Checker.open(ledger, rules, on)
    with ledger.store.read() as conn:
        known = conn.execute(select(PartyRow.id).where(PartyRow.id == party_id)).scalar()
    if known is None:
        raise NotFoundError(f"no party {party_id!r} is registered in the ledger")
    pack = checker.library.in_force(checker.as_of)
    facts = checker.facts(pack)
    facts.screen([party_id, *sorted(facts.owners_of([party_id]))])
    lists, policies, chain = facts.affiliation(party_id)
    return PartyScreening(
        party=party_id,
        on=checker.as_of,
        pack=pack.id,
        matches=facts.matches(party_id),
        affiliate_of=lists,
        affiliate_policies=policies,
        ownership_chain=chain,
        affiliates_rule=_affiliates_rule(pack.parameters, checker.as_of),
    )

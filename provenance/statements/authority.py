"""Who may sign what: the one policy table, and the state of every key over time.

A key belongs to a party; a party has roles; the kinds registry
(`statements.kinds.KINDS`, the `signers` of each kind) is the policy table that
says which roles may sign which kind of statement. A key registered at entry `r` and revoked
at entry `v` may sign entries `s` with `r < s <= v` (the revocation itself may be
signed by the key being revoked or rotated). The one exception is the genesis
entry: the operator's own registration, signed by the key it registers.

`Directory` holds that state. The ledger fills it lazily from its projections
while it appends; the audit rebuilds it from the entries alone, so the two are
judged by the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from provenance.crypto.keys import VerifyingKey
from provenance.errors import AuthorizationError, InputError
from provenance.statements.kinds import KINDS
from provenance.statements.payloads import (
    KeyRevocationStatement,
    KeyRotationStatement,
    KeyStatement,
    PartyStatement,
    Role,
    Statement,
)


@dataclass(frozen=True)
class PartyRecord:
    id: str
    name: str
    roles: frozenset[str]
    country: str
    headquarters: str


@dataclass(frozen=True)
class KeyRecord:
    keyid: str
    party: str
    verifying: VerifyingKey
    registered_seq: int
    revoked_seq: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Signer:
    """Who signed an entry: the authorising party and every key that signed."""

    party: str
    keyids: tuple[str, ...]


KeyLoader = Callable[[str], KeyRecord | None]
PartyLoader = Callable[[str], PartyRecord | None]


@dataclass
class Directory:
    """Parties and keys as of the entry being judged; loads what it does not hold."""

    load_key: KeyLoader = field(default=lambda _k: None)
    load_party: PartyLoader = field(default=lambda _p: None)
    load_parties: Callable[[list[str]], dict[str, PartyRecord]] | None = None
    _keys: dict[str, KeyRecord | None] = field(default_factory=dict)
    _parties: dict[str, PartyRecord | None] = field(default_factory=dict)

    def key(self, keyid: str) -> KeyRecord | None:
        if keyid not in self._keys:
            self._keys[keyid] = self.load_key(keyid)
        return self._keys[keyid]

    def party(self, party_id: str) -> PartyRecord | None:
        if party_id not in self._parties:
            self._parties[party_id] = self.load_party(party_id)
        return self._parties[party_id]

    def prefetch_parties(self, party_ids: Iterable[str]) -> None:
        """Load many parties in one go (bulk appends), remembering which do not exist."""
        if self.load_parties is None:
            return
        wanted = [p for p in dict.fromkeys(party_ids) if p not in self._parties]
        if wanted:
            found = self.load_parties(wanted)
            for party_id in wanted:
                self._parties[party_id] = found.get(party_id)

    def keys(self) -> dict[str, KeyRecord]:
        """Every key this directory holds (all of them, for a directory built in memory)."""
        return {k: v for k, v in self._keys.items() if v is not None}

    def put_key(self, record: KeyRecord) -> None:
        self._keys[record.keyid] = record

    def put_party(self, record: PartyRecord) -> None:
        self._parties[record.id] = record

    # --- state changes, one per key-related statement --------------------------------

    def apply(self, statement: Statement, seq: int) -> list[KeyRecord]:
        """Apply a party or key statement accepted at `seq`; return the keys it changed."""
        if isinstance(statement, PartyStatement):
            return self._apply_party(statement, seq)
        if isinstance(statement, KeyStatement):
            return [self._add_key(statement.party, statement.public_key, seq)]
        if isinstance(statement, KeyRotationStatement):
            old = self._require_key(statement.old_key)
            if old.party != statement.party:
                raise InputError(
                    f"key-rotation: key {statement.old_key[:16]} belongs to party {old.party}, "
                    f"not {statement.party}"
                )
            new = self._add_key(statement.party, statement.public_key, seq)
            revoked = self._revoke(old, seq, statement.reason or f"rotated to {new.keyid[:16]}")
            return [revoked, new]
        if isinstance(statement, KeyRevocationStatement):
            return [self._revoke(self._require_key(statement.key), seq, statement.reason)]
        return []

    def _apply_party(self, statement: PartyStatement, seq: int) -> list[KeyRecord]:
        self._parties[statement.id] = PartyRecord(
            statement.id,
            statement.name,
            frozenset(statement.roles),
            statement.country,
            statement.headquarters,
        )
        return [self._add_key(statement.id, pem, seq) for pem in statement.keys]

    def _add_key(self, party: str, pem: str, seq: int) -> KeyRecord:
        if self.party(party) is None:
            raise InputError(f"unknown party {party!r}", hint="register the party first")
        verifying = VerifyingKey.from_pem(pem)
        existing = self.key(verifying.keyid)
        if existing is not None:
            raise InputError(
                f"key {verifying.keyid[:16]} is already registered (to party {existing.party})"
            )
        record = KeyRecord(verifying.keyid, party, verifying, seq)
        self._keys[record.keyid] = record
        return record

    def _require_key(self, keyid: str) -> KeyRecord:
        record = self.key(keyid)
        if record is None:
            raise InputError(f"unknown key {keyid[:16]}")
        if record.revoked_seq is not None:
            raise InputError(f"key {keyid[:16]} was already revoked at entry {record.revoked_seq}")
        return record

    def _revoke(self, record: KeyRecord, seq: int, reason: str) -> KeyRecord:
        revoked = replace(record, revoked_seq=seq, reason=reason)
        self._keys[record.keyid] = revoked
        return revoked


@dataclass(frozen=True)
class Claims:
    """What a statement says about keys, which is all authorisation needs of it."""

    introduced: frozenset[str] = frozenset()
    """Keys it registers (their proof-of-possession signatures are allowed)."""
    self_key: str | None = None
    """The key it rotates or revokes (which may sign it itself)."""
    genesis_party: str | None = None
    """The party it registers with the operator role (what the first entry must do)."""


def keys_registered_by(statement: Statement) -> list[VerifyingKey]:
    """Public keys a statement brings in."""
    if isinstance(statement, PartyStatement):
        return [VerifyingKey.from_pem(pem) for pem in statement.keys]
    if isinstance(statement, KeyStatement | KeyRotationStatement):
        return [VerifyingKey.from_pem(statement.public_key)]
    return []


def claims(statement: Statement) -> Claims:
    introduced = frozenset(k.keyid for k in keys_registered_by(statement))
    if isinstance(statement, KeyRotationStatement):
        return Claims(introduced, statement.old_key)
    if isinstance(statement, KeyRevocationStatement):
        return Claims(introduced, statement.key)
    if isinstance(statement, PartyStatement) and Role.OPERATOR in statement.roles:
        return Claims(introduced, None, statement.id)
    return Claims(introduced)


def authorize(
    kind: str,
    seq: int,
    hinted: Sequence[str],
    verified: Iterable[str],
    directory: Directory,
    claim: Claims = Claims(),
) -> Signer:
    """Decide whether verified signatures may append a statement as entry `seq`.

    `hinted` are the envelope's keyid hints, `verified` the ids of the keys whose
    signature verified. Every signature must be by a registered key valid at
    `seq` (or by a key this very statement registers, as proof of possession),
    and at least one must belong to a party whose role may sign `kind`.
    """
    verified_ids = list(dict.fromkeys(verified))
    for hint in hinted:
        if hint not in verified_ids:
            raise AuthorizationError(f"signed by unknown key {hint[:16] or '(no keyid)'}")
    row = KINDS.get(kind)
    if row is None:
        raise AuthorizationError(f"no policy says who may sign {kind!r}")
    allowed = row.signers
    if seq == 0:
        if claim.genesis_party is None:
            raise AuthorizationError("the first entry must register the operator party")
        if not verified_ids or not set(verified_ids) <= claim.introduced:
            raise AuthorizationError(
                "the first entry must be signed by the operator key it registers"
            )
        return Signer(claim.genesis_party, tuple(verified_ids))

    authorizing: str | None = None
    refusals: list[str] = []
    for keyid in verified_ids:
        if keyid in claim.introduced:
            continue  # proof of possession of the key being registered
        record = directory.key(keyid)
        if record is None:
            raise AuthorizationError(f"signed by unknown key {keyid[:16]}")
        if record.registered_seq >= seq:
            raise AuthorizationError(
                f"key {keyid[:16]} signed before its registration at entry {record.registered_seq}"
            )
        if record.revoked_seq is not None and seq > record.revoked_seq:
            raise AuthorizationError(
                f"key {keyid[:16]} of party {record.party} was revoked at entry "
                f"{record.revoked_seq} ({record.reason})"
            )
        party = directory.party(record.party)
        roles = party.roles if party else frozenset()
        if authorizing is None:
            if roles & allowed or (row.self_signed and keyid == claim.self_key):
                authorizing = record.party
            else:
                refusals.append(f"party {record.party} (roles: {', '.join(sorted(roles))})")
    if authorizing is None:
        who = "; ".join(refusals) or "no registered key"
        raise AuthorizationError(
            f"{who} may not sign {kind!r}: allowed roles are {', '.join(sorted(allowed))}"
        )
    return Signer(authorizing, tuple(verified_ids))


def require_signer(kind: str, field: str, named: str, signer: Signer) -> None:
    """A statement that speaks for a party (`field` names it) must be signed by that party:
    a landmark signs its own measurements, a consignee its own KYC attestation."""
    if named != signer.party:
        raise AuthorizationError(
            f"{kind}: {field}: the statement names {named!r} but is signed by {signer.party!r}",
            hint=f"{named} signs its own {kind} statements",
        )


class Timeline:
    """Parties and keys across the whole history, to judge any entry after the fact.

    Built by applying the key-related entries in order (as the audit and the
    offline verifier do, from the entries alone). A key's record holds both its
    registration and its revocation, which is all `authorize` needs; a party's
    roles are looked up as they stood before the entry being judged.
    """

    def __init__(self) -> None:
        self.directory = Directory()
        self._roles: dict[str, list[tuple[int, PartyRecord]]] = {}

    def apply(self, statement: Statement, seq: int) -> None:
        self.directory.apply(statement, seq)
        if isinstance(statement, PartyStatement):
            record = self.directory.party(statement.id)
            assert record is not None
            self._roles.setdefault(statement.id, []).append((seq, record))

    def record_party(self, seq: int, record: PartyRecord) -> None:
        """Restore one step of a party's history (from `history()`)."""
        self.directory.put_party(record)
        self._roles.setdefault(record.id, []).append((seq, record))

    def keys(self) -> dict[str, KeyRecord]:
        return self.directory.keys()

    def history(self) -> dict[str, list[tuple[int, PartyRecord]]]:
        return {party: list(steps) for party, steps in self._roles.items()}

    def as_of(self, seq: int) -> Directory:
        """The directory as entry `seq` must be judged: parties as they were before it."""

        def party_at(party_id: str) -> PartyRecord | None:
            found = None
            for registered, record in self._roles.get(party_id, ()):
                if registered >= seq:
                    break
                found = record
            return found

        return Directory(self.directory.key, party_at)


# --- who may do what to a red flag --------------------------------------------------------

SEVERITIES = ("info", "warning", "high", "blocking")
_ANY = frozenset(SEVERITIES)
_LOW = frozenset({"info", "warning"})

FLAG_RANK = {"regulator": 2, "exporter": 1}
"""Whose word on a flag weighs more: a regulator decides; the shipment's exporter answers.
A resolution by a lower rank than an earlier one on the same flag is refused."""

FLAG_POLICY: dict[tuple[str, str], frozenset[str]] = {
    ("regulator", "cleared"): _ANY,
    ("regulator", "confirmed"): _ANY,
    ("regulator", "escalated"): _ANY,
    ("exporter", "disputed"): _ANY,
    ("exporter", "cleared"): _LOW,
    ("exporter", "confirmed"): _LOW,
}
"""(acting role, status) -> the severities of flag it may be given. The exporter acts only
on a flag about one of its own shipments; no other role resolves a flag. A missing row is a
refusal."""

ALLOW_LIST_ROLES = frozenset({"regulator"})
"""Who may sign an allow-list disposition (a clearance with an expiry date)."""


@dataclass(frozen=True)
class PriorResolution:
    """An earlier resolution of the same flag: its entry, status and the role it acted in."""

    seq: int
    status: str
    party: str
    role: str


def flag_role(roles: Iterable[str], owns_subject: bool) -> str | None:
    """The role a signer resolves a flag in: regulator, else the exporter of the shipment
    the flag is about, else none."""
    held = set(roles)
    if "regulator" in held:
        return "regulator"
    if "exporter" in held and owns_subject:
        return "exporter"
    return None


def authorize_resolution(
    *,
    flag: str,
    subject: str,
    severity: str,
    status: str,
    allow_list: bool,
    party: str,
    roles: Iterable[str],
    owns_subject: bool,
    prior: Sequence[PriorResolution] = (),
) -> str:
    """Decide whether `party` may give `flag` this status; return the role it acts in.

    Raises `AuthorizationError` (exit 3; the append writes nothing) when the signer has no
    role on the flag, when its role may not give this status to a flag of this severity,
    when it signs an allow-list disposition without being a regulator, or when an earlier
    resolution of the flag was by a higher role (a decision is undone only by its peers).
    """
    role = flag_role(roles, owns_subject)
    if role is None:
        raise AuthorizationError(
            f"resolution: flag {flag} is about {subject}; only a regulator or that shipment's "
            f"exporter may resolve it, not {party!r}"
        )
    severities = FLAG_POLICY.get((role, status), frozenset())
    if severity not in severities:
        if any(r == role and s == status for r, s in FLAG_POLICY):
            why = f"an {role} may not mark a {severity} flag {status}"
        else:
            why = f"an {role} may not mark a flag {status}"
        raise AuthorizationError(
            f"resolution: flag {flag}: {why} (signed by {party!r})",
            hint="a regulator confirms, clears or escalates; the shipment's exporter may "
            "answer with --status disputed and its evidence, and clear or confirm only an "
            "info or warning flag",
        )
    if allow_list and role not in ALLOW_LIST_ROLES:
        raise AuthorizationError(
            f"resolution: flag {flag}: an allow-list disposition (--expires) is signed by a "
            f"regulator, not by {party!r} ({role})"
        )
    rank = FLAG_RANK[role]
    for earlier in prior:
        if FLAG_RANK.get(earlier.role, 0) > rank:
            raise AuthorizationError(
                f"resolution: flag {flag} was {earlier.status} by {earlier.role} "
                f"{earlier.party!r} at entry {earlier.seq}; an {role} may not change a "
                f"{earlier.role}'s decision",
                hint="answer the regulator outside the ledger, or ask it to reconsider",
            )
    return role

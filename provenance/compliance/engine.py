"""The engine: a pack's rules over a shipment's facts -> a determination.

For each item, in order: the classification rules (first that holds) give the
ECCN; every licensing rule that holds requires a license, and `govern` picks
the rule whose policy governs, and why (rules superseded by another that holds
are set aside; of the rest the strictest policy governs; packs.GOVERNING), with
the exceptions all the remaining rules allow; then the license the shipment
cites is checked against the items (products, ECCNs); then every flag rule is
evaluated (item rules per item, shipment rules once), each flag carrying the
signed resolution of the same flag raised earlier, if any. The verdict (`_verdict`):
`blocked` when a blocking flag stands (or a high one a resolution confirmed),
`license_required` when an item needs a license the shipment does not cover,
`hold` while a high flag is neither cleared nor confirmed, `clear` otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import cel

from provenance.compliance.facts import ShipmentFacts
from provenance.compliance.packs import POLICY_ORDER, Compiled, FlagRule, LicensingRule, Pack
from provenance.errors import InputError

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
SEVERITY_ORDER = {"info": 0, "warning": 1, "high": 2, "blocking": 3}


_PLAIN = frozenset({str, int, bool, type(None)})


def json_value(value: Any) -> Any:
    """Facts as JSON a statement may carry: no floats (a double becomes a decimal string)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, float):
        text = format(Decimal(repr(value)).normalize(), "f")
        return text
    if isinstance(value, dict):
        return {k: v if type(v) in _PLAIN else json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [v if type(v) in _PLAIN else json_value(v) for v in value]
    return value


def lookup(facts: dict[str, Any], name: str) -> Any:
    value: Any = facts
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def render(message: str, facts: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        value = lookup(facts, match.group(1).strip())
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "none"
        if isinstance(value, float):
            return f"{value:,.2f}".rstrip("0").rstrip(".")
        return str(value)

    return _PLACEHOLDER.sub(one, message)


@dataclass
class Fired:
    """A rule that held, and the facts its condition read."""

    rule: str
    expression: str
    facts: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "expression": self.expression, "facts": json_value(self.facts)}


@dataclass
class Determination:
    shipment: str
    shipment_seq: int
    pack_id: str
    pack_digest: str
    evaluated_on: dt.date
    screening: str | None
    items: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    license: dict[str, Any]
    verdict: str
    explain: list[dict[str, Any]] = field(default_factory=list)
    signed: Any = None
    """(signer key ids, envelope) when `Checker.determine` signed it already."""

    def to_json(self) -> dict[str, Any]:
        data = {
            "shipment": self.shipment,
            "shipment_seq": self.shipment_seq,
            "pack": {"id": self.pack_id, "digest": self.pack_digest},
            "evaluated_on": self.evaluated_on.isoformat(),
            "screening_list": self.screening,
            "items": self.items,
            "license": self.license,
            "flags": self.flags,
            "verdict": self.verdict,
        }
        if self.explain:
            data["explain"] = self.explain
        return data


def _seen(compiled: Compiled, facts: dict[str, Any]) -> dict[str, Any]:
    return {name: lookup(facts, name) for name in compiled.names}


def evaluate(
    pack: Pack,
    shipment: ShipmentFacts,
    *,
    evaluated_on: dt.date,
    screening: str | None = None,
    explain: bool = False,
) -> Determination:
    """Evaluate every rule of `pack` on one shipment's facts."""
    facts = dict(shipment.facts)
    facts["params"] = pack.parameters
    cited = facts["shipment"]
    if cited.get("license_kind") == "exception":  # NAC, ACA...: compared in upper case
        facts["shipment"] = {**cited, "license": str(cited.get("license", "")).upper()}
        cited = facts["shipment"]
    neutral_item = dict(pack.neutral_item)
    # Items whose facts are the same but for their line number (eight identical GPUs on
    # eight lines) are evaluated once: the rules see nothing else of an item. Item rules
    # run over all (distinct) items in one CEL call each: `items.map(item, (when))`.
    item_need = pack.needed.get("item")
    key_fields = [k for k in sorted(item_need) if k not in _OWN] if item_need is not None else None
    distinct: dict[Any, int] = {}
    slot: list[int] = []
    unique: list[dict[str, Any]] = []
    for item in shipment.items:
        key = _key(item.facts, key_fields)
        if key not in distinct:
            distinct[key] = len(unique)
            unique.append(item.facts)
        slot.append(distinct[key])
    need = pack.needed
    item_fields = need.get("item")
    context = cel.Context(
        variables={
            **{
                root: _prune(facts[root], fields) for root, fields in need.items() if root != "item"
            },
            "item": _prune(neutral_item, item_fields),
            "items": [_prune(u, item_fields) for u in unique],
        }
    )
    fired: list[Fired] = []
    held = _held(pack, "classification", context)
    chosen_of: list[Compiled | None] = []
    for u, values in enumerate(unique):
        chosen = next((c for c, h in zip(pack.classification, held, strict=True) if h[u]), None)
        chosen_of.append(chosen)
        values["eccn"] = chosen.rule.eccn if chosen else "unclassified"  # type: ignore[union-attr]
    context.update({"items": [_prune(u, item_fields) for u in unique]})
    held = _held(pack, "licensing", context)
    applying_of = [
        [c for c, h in zip(pack.licensing, held, strict=True) if h[u]] for u in range(len(unique))
    ]
    shipment_facts = facts["shipment"]
    claimed = shipment_facts["license"] if shipment_facts["license_kind"] == "exception" else ""
    reference = str(shipment_facts.get("license_reference", ""))
    rulings = [
        govern([c.rule for c in applying if isinstance(c.rule, LicensingRule)])
        for applying in applying_of
    ]
    items_out: list[dict[str, Any]] = []
    for item, u in zip(shipment.items, slot, strict=True):
        values = item.facts
        chosen, applying, ruling = chosen_of[u], applying_of[u], rulings[u]
        values["eccn"] = unique[u]["eccn"]
        values["license_required"] = bool(ruling.requirements)
        values["policy"] = ruling.policy
        values["governing_rule"] = ruling.rule
        values["exceptions"] = ruling.exceptions
        values["exceptions_suspended"] = bool(ruling.suspended_by)
        values["exception_covers"] = bool(claimed) and ruling.covers(claimed, reference)
        values["exception_reference_missing"] = (
            bool(claimed) and claimed in ruling.exceptions and not values["exception_covers"]
        )
        if explain:
            whole = {**facts, "item": values}
            if chosen is not None:
                fired.append(Fired(chosen.rule.id, chosen.rule.when, _seen(chosen, whole)))
            fired.extend(Fired(c.rule.id, c.rule.when, _seen(c, whole)) for c in applying)
        out = {
            "line": values["line"],
            "product": values["product"],
            "declared_product": values["declared_product"],
            "quantity": values["quantity"],
            "eccn": values["eccn"],
            "classified_by": chosen.rule.id if chosen else None,
            "tpp": json_value(values["tpp"]),
            "pd": json_value(values["pd"]),
            "license_required": values["license_required"],
            "policy": values["policy"] or None,
            "governing_rule": ruling.rule or None,
            "governing": ruling.why or None,
            "licensing_rules": [r.id for r in ruling.requirements],
            "exceptions": values["exceptions"],
        }
        if ruling.superseded:
            out["superseded"] = [{"rule": r, "by": by} for r, by in ruling.superseded]
        if ruling.suspended_by:
            out["exceptions_suspended_by"] = ruling.suspended_by
        items_out.append(out)
    license_facts = dict(facts["license"])
    row = shipment.license_row
    if row is not None:
        listed_products = set(row.products.split())
        listed_eccns = set(row.eccns.split())
        license_facts["products_ok"] = not listed_products or all(
            i.facts["product"] in listed_products for i in shipment.items
        )
        license_facts["eccns_ok"] = all(
            _eccn_covered(i.facts["eccn"], listed_eccns)
            for i in shipment.items
            if i.facts["license_required"]
        )
    needing = [i.facts for i in shipment.items if i.facts["license_required"]]
    license_facts["exception_covers"] = bool(needing) and all(
        v["exception_covers"] for v in needing
    )
    facts["license"] = license_facts
    flags: list[dict[str, Any]] = []
    item_rules, _ = pack.batched["item_flags"]
    shipment_rules, _ = pack.batched["shipment_flags"]
    context.update(
        {
            "items": [_prune(u, item_fields) for u in unique],
            "license": _prune(license_facts, need.get("license")),
        }
    )
    held = _held(pack, "item_flags", context)
    firing: list[tuple[Compiled, dict[str, Any], int | None]] = [
        (c, item.facts, item.facts["line"])
        for item, u in zip(shipment.items, slot, strict=True)
        for c, h in zip(item_rules, held, strict=True)
        if h[u]
    ]
    shipment_held = _held(pack, "shipment_flags", context)
    firing.extend(
        (c, neutral_item, None) for c, h in zip(shipment_rules, shipment_held, strict=True) if h
    )
    for compiled, values, line in firing:
        flag = _flag(compiled)
        whole = {**facts, "item": values}
        seen = _seen(compiled, whole)
        raised = {
            "rule": flag.id,
            "category": flag.category,
            "severity": flag.severity,
            "scope": flag.scope,
            "line": line,
            "message": render(flag.message, whole),
            "facts": json_value(seen),
            "sources": flag.sources,
        }
        resolution = shipment.resolutions.get((flag.id, line))
        if resolution is not None:
            raised["resolution"] = resolution
        flags.append(raised)
        if explain:
            fired.append(Fired(flag.id, flag.when, seen))
    flags.extend(_standing(shipment, flags))
    flags.sort(key=lambda f: (-SEVERITY_ORDER[f["severity"]], f["rule"], f["line"] or 0))
    license_covers = bool(
        license_facts["cited"]
        and license_facts["found"]
        and license_facts["valid_on_ship_date"]
        and license_facts["destination_ok"]
        and license_facts["parties_ok"]
        and license_facts["products_ok"]
        and license_facts["eccns_ok"]
        and license_facts["within_limits"]
    )
    for out, item in zip(items_out, shipment.items, strict=True):
        values = item.facts
        covered_by = None
        if values["license_required"]:
            if license_covers:
                covered_by = shipment_facts["license"]
            elif values["exception_covers"]:
                cited = f"{claimed}:{reference}" if reference else claimed
                covered_by = f"exception {cited}"
        out["covered_by"] = covered_by
    uncovered = any(o["license_required"] and not o["covered_by"] for o in items_out)
    verdict = _verdict(flags, uncovered)
    return Determination(
        shipment=shipment.id,
        shipment_seq=shipment.seq,
        pack_id=pack.id,
        pack_digest=pack.digest,
        evaluated_on=evaluated_on,
        screening=screening,
        items=items_out,
        flags=flags,
        license={
            "id": shipment_facts["license"] or None,
            "kind": shipment_facts["license_kind"],
            "covers": license_covers,
            **{k: json_value(v) for k, v in license_facts.items()},
        },
        verdict=verdict,
        explain=[f.to_json() for f in fired],
    )


def _standing(shipment: ShipmentFacts, raised: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The flags a signed resolution confirmed on this shipment that the facts no longer
    raise (an amendment, a receipt, a new pack): a confirmation is a person's finding, so
    it stands, and blocks, until a regulator resolves the flag otherwise. Only a
    regulator changes a confirmed flag (`flag resolve`)."""
    held = {(f["rule"], f["line"]) for f in raised}
    return [
        {
            "rule": rule,
            "category": rule.split(".", 1)[0],
            "severity": severity,
            "scope": "shipment" if line is None else "item",
            "line": line,
            "message": _bounded(
                f"confirmed ({flag}), it stands though these facts no longer raise it: {message}"
            ),
            "facts": {},
            "sources": [],
            "resolution": "confirmed",
        }
        for (rule, line), (flag, severity, message) in sorted(
            shipment.confirmed.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)
        )
        if (rule, line) not in held
    ]


def _bounded(message: str, limit: int = 2000) -> str:
    """A flag's message within what a statement holds (`payloads.Text`)."""
    return message if len(message) <= limit else message[: limit - 3] + "..."


VERDICTS = ("clear", "hold", "license_required", "blocked")
"""Least to most severe. `hold`: a high red flag awaits inquiry (Supplement No. 3 to Part
732: inquire, do not proceed), until a signed resolution clears it."""


def _verdict(flags: list[dict[str, Any]], uncovered: bool) -> str:
    """blocked: a blocking flag (whatever its resolution: the findings that block are facts
    of the ledger, such as a license that is not there), or a high flag a resolution
    confirmed; license_required: an item needs a license nothing covers; hold: a high flag
    not resolved, or escalated (to BIS) and not yet decided; clear otherwise. A high flag
    cleared by a signed resolution (the inquiry explained it) no longer holds the shipment."""
    if any(
        f["severity"] == "blocking"
        or (f["severity"] == "high" and f.get("resolution") == "confirmed")
        for f in flags
    ):
        return "blocked"
    if uncovered:
        return "license_required"
    if any(f["severity"] == "high" and f.get("resolution") != "cleared" for f in flags):
        return "hold"
    return "clear"


@dataclass(frozen=True)
class Ruling:
    """Which licensing rules govern an item, and why."""

    requirements: list[LicensingRule]
    """The license requirements that apply (held, not superseded), in pack order."""
    superseded: list[tuple[str, str]]
    """(rule, the rule that superseded it)."""
    suspended_by: list[str]
    rule: str
    """The governing rule ('' when no license is required)."""
    policy: str
    why: str
    exceptions: list[str]

    def covers(self, code: str, reference: str) -> bool:
        """A citation of exception `code` with `reference` covers the item: the code is
        available and the reference has the form every requirement asks of it."""
        if code not in self.exceptions:
            return False
        for rule in self.requirements:
            form = rule.reference_for(code)
            if form is not None and not re.fullmatch(form, reference):
                return False
        return True


def govern(held: list[LicensingRule]) -> Ruling:
    """The governing policy of the licensing rules that hold for an item (packs.GOVERNING)."""
    held_ids = {r.id for r in held}
    superseded: dict[str, str] = {}
    for rule in held:
        for target in rule.supersedes:
            if target in held_ids and target not in superseded:
                superseded[target] = rule.id
    kept = [r for r in held if r.id not in superseded]
    requirements = [r for r in kept if r.requires_license]
    suspended_by = [r.id for r in kept if r.suspends_exceptions]
    if not requirements:
        return Ruling([], sorted(superseded.items()), suspended_by, "", "", "", [])
    governing = requirements[0]
    for rule in requirements[1:]:
        if POLICY_ORDER[rule.policy or ""] > POLICY_ORDER[governing.policy or ""]:
            governing = rule
    policy = governing.policy or ""
    replaced = [t for t, by in superseded.items() if by == governing.id]
    if len(requirements) == 1:
        why = "the only license requirement that applies"
    else:
        others = ", ".join(f"{r.id} ({r.policy})" for r in requirements if r is not governing)
        why = f"the strictest of the requirements that apply; also {others}"
    if replaced:
        why += f"; supersedes {', '.join(replaced)}"
    others_replaced = [f"{t} (by {by})" for t, by in superseded.items() if by != governing.id]
    if others_replaced:
        why += f"; set aside: {', '.join(others_replaced)}"
    allowed: set[str] | None = None
    for rule in requirements:
        allowed = rule.codes() if allowed is None else allowed & rule.codes()
    exceptions = [] if suspended_by else sorted(allowed or set())
    if suspended_by:
        why += f"; exceptions suspended by {', '.join(suspended_by)}"
    return Ruling(
        requirements,
        sorted(superseded.items()),
        suspended_by,
        governing.id,
        policy,
        why,
        exceptions,
    )


def _held(pack: Pack, name: str, context: Any) -> list[Any]:
    """Per rule of the group: its result (a bool), or per distinct item (a list of bools).

    One CEL call for the whole group; if it fails, each rule is run alone so that the
    error names the rule."""
    group, program = pack.batched[name]
    try:
        result = program.execute(context)
    except Exception:
        for compiled in group:
            runner = compiled.many if name != "shipment_flags" else compiled.program
            try:
                runner.execute(context)
            except Exception as exc:
                raise InputError(
                    f"rule pack {pack.id}, rule {compiled.rule.id}: {type(exc).__name__}: {exc}"
                ) from None
        raise
    if name == "shipment_flags":
        return list(result)
    return [[per_item[i] for per_item in result] for i in range(len(group))]


def _prune(values: dict[str, Any], fields: set[str] | None) -> dict[str, Any]:
    """Only the fields some rule reads: converting values to CEL is what costs."""
    if fields is None:
        return values
    return {k: values[k] for k in fields if k in values}


_OWN = frozenset(
    {
        "line",
        "eccn",
        "license_required",
        "policy",
        "governing_rule",
        "exceptions",
        "exceptions_suspended",
        "exception_covers",
        "exception_reference_missing",
    }
)


def _key(values: dict[str, Any], fields: list[str] | None) -> tuple[Any, ...]:
    """What the rules can see of an item (the facts they read, but its line and what the
    rules set on it: `fields` leaves those out), hashable: items equal in it get the same
    results."""
    if fields is None:
        fields = [k for k in sorted(values) if k not in _OWN]
    get = values.get
    return tuple(tuple(v) if type(v := get(k)) is list else v for k in fields)


def _flag(compiled: Compiled) -> FlagRule:
    assert isinstance(compiled.rule, FlagRule)
    return compiled.rule


def _eccn_covered(eccn: str, listed: set[str]) -> bool:
    """3A090.a is covered by a license for 3A090.a or for 3A090 (the whole entry)."""
    return any(eccn == e or eccn.startswith(e + ".") for e in listed)

"""The engine: a pack's rules over a shipment's facts -> a determination.

For each item, in order: the classification rules (first that holds) give the
ECCN; every licensing rule that holds requires a license, the strictest policy
wins and only the exceptions all of them allow remain; then the license the
shipment cites is checked against the items (products, ECCNs); then every flag
rule is evaluated (item rules per item, shipment rules once). The verdict:
`blocked` when a blocking flag stands, `license_required` when an item needs a
license the shipment does not cover, `clear` otherwise.
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


def json_value(value: Any) -> Any:
    """Facts as JSON a statement may carry: no floats (a double becomes a decimal string)."""
    if isinstance(value, float):
        text = format(Decimal(repr(value)).normalize(), "f")
        return text
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
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
    neutral_item = dict(pack.neutral_item)
    # Items whose facts are the same but for their line number (eight identical GPUs on
    # eight lines) are evaluated once: the rules see nothing else of an item. Item rules
    # run over all (distinct) items in one CEL call each: `items.map(item, (when))`.
    item_need = pack.needed.get("item")
    key_fields = sorted(item_need) if item_need is not None else None
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
    items_out: list[dict[str, Any]] = []
    for item, u in zip(shipment.items, slot, strict=True):
        values = item.facts
        chosen, applying = chosen_of[u], applying_of[u]
        values["eccn"] = unique[u]["eccn"]
        rules: list[LicensingRule] = [c.rule for c in applying if isinstance(c.rule, LicensingRule)]
        values["license_required"] = bool(rules)
        values["policy"] = (
            max((r.policy for r in rules), key=lambda p: POLICY_ORDER[p]) if rules else ""
        )
        allowed: set[str] | None = None
        for rule in rules:
            allowed = set(rule.exceptions) if allowed is None else allowed & set(rule.exceptions)
        values["exceptions"] = sorted(allowed or set())
        if explain:
            whole = {**facts, "item": values}
            if chosen is not None:
                fired.append(Fired(chosen.rule.id, chosen.rule.when, _seen(chosen, whole)))
            fired.extend(Fired(c.rule.id, c.rule.when, _seen(c, whole)) for c in applying)
        items_out.append(
            {
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
                "licensing_rules": [r.id for r in rules],
                "exceptions": values["exceptions"],
            }
        )
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
        flags.append(
            {
                "rule": flag.id,
                "category": flag.category,
                "severity": flag.severity,
                "scope": flag.scope,
                "line": line,
                "message": render(flag.message, whole),
                "facts": json_value(seen),
                "sources": flag.sources,
            }
        )
        if explain:
            fired.append(Fired(flag.id, flag.when, seen))
    flags.sort(key=lambda f: (-SEVERITY_ORDER[f["severity"]], f["rule"], f["line"] or 0))
    shipment_facts = facts["shipment"]
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
    claimed = shipment_facts["license"]  # exception codes: upper-cased above
    for out, item in zip(items_out, shipment.items, strict=True):
        values = item.facts
        covered_by = None
        if values["license_required"]:
            if license_covers:
                covered_by = shipment_facts["license"]
            elif shipment_facts["license_kind"] == "exception" and claimed in values["exceptions"]:
                covered_by = f"exception {claimed}"
        out["covered_by"] = covered_by
    uncovered = any(o["license_required"] and not o["covered_by"] for o in items_out)
    if any(f["severity"] == "blocking" for f in flags):
        verdict = "blocked"
    elif uncovered:
        verdict = "license_required"
    else:
        verdict = "clear"
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


_OWN = frozenset({"line", "eccn", "license_required", "policy", "exceptions"})


def _key(values: dict[str, Any], fields: list[str] | None) -> tuple[Any, ...]:
    """What the rules can see of an item (the facts they read, but its line and what the
    rules set on it), hashable: items equal in it get the same results."""
    names = fields if fields is not None else sorted(values)
    return tuple(
        tuple(v) if isinstance(v := values.get(k), list) else v for k in names if k not in _OWN
    )


def _flag(compiled: Compiled) -> FlagRule:
    assert isinstance(compiled.rule, FlagRule)
    return compiled.rule


def _eccn_covered(eccn: str, listed: set[str]) -> bool:
    """3A090.a is covered by a license for 3A090.a or for 3A090 (the whole entry)."""
    return any(eccn == e or eccn.startswith(e + ".") for e in listed)

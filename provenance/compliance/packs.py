"""Rule packs: dated YAML files of CEL rules, resolved, checked and compiled once.

A pack (`rules/packs/<id>.yaml`) has an `id`, `title`, `effective_from`, the
`sources` its rules cite, optional `extends` (a parent pack), the reference
data it reads (`reference`: country groups, diversion hubs, HS codes), its
`parameters`, and three lists of rules, each with an `id`, a CEL condition
`when`, and the `sources` it rests on:

* `classification`: ordered; the first rule whose condition holds gives the
  item's ECCN (`eccn`). A child's list, when given, replaces its parent's.
* `licensing`: every rule that holds applies: a license is required, under
  its `policy` (presumption_of_denial, case_by_case, approval), with the
  license `exceptions` that could apply (a code, or `{code, reference}` when
  a citation of it must carry a reference of that form, e.g. NAC's BIS
  confirmation number `A` + digits). A rule may `supersede` others: when it
  holds, the rules it names are set aside for that item (their policy and
  exceptions no longer count). A rule with `suspends_exceptions: true` and no
  policy requires no license; while it holds no license exception is
  available (e.g. a party on the Unverified List). Merged with the parent's
  by id. How the governing policy is chosen is `GOVERNING` below.
* `flags`: red flags, `scope` item or shipment, a `severity` (info, warning,
  high, blocking) and a `message` with `{fact.name}` placeholders. Merged by id.

`remove` drops inherited licensing or flag rules by id. A pack that was
rescinded before its compliance date (`compliance_from`, `rescinded_on`)
never bound: it is kept for the record, no shipment is judged under it, and
the pack in force on a date skips it. Loading checks every
condition compiles, names only facts of the vocabulary (or the pack's own
parameters), and evaluates on a neutral fact set; a bad pack is refused with
the rule's id and the error. No Python from a pack is ever run: CEL is a
side-effect-free expression language with no access to the host.

The pack's digest is the SHA-256 of the canonical JSON of the resolved pack
(its rules, parameters, sources and the reference data it read), recorded in
every determination.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import cel
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from provenance import documents
from provenance.compliance.vocabulary import FACTS, sample
from provenance.crypto import canonical
from provenance.errors import InputError, NotFoundError
from provenance.resources import resource_dir

PACKS_DIR = "packs"
REFERENCE_DIR = "reference"
Severity = Literal["info", "warning", "high", "blocking"]
Policy = Literal["presumption_of_denial", "case_by_case", "approval"]
POLICY_ORDER = {"approval": 0, "case_by_case": 1, "presumption_of_denial": 2}
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,80}$")]
ExceptionCode = Annotated[str, Field(pattern=r"^[A-Z]{2,5}$")]
Reference = Literal["country-groups", "diversion-hubs", "hs-codes", "is-informed", "hbm-parts"]

GOVERNING = (
    "For each item, every licensing rule whose condition holds is a license requirement. "
    "A rule superseded by another rule that also holds for the item is set aside "
    "(`supersedes:`, e.g. a more specific policy replacing a general one). Of the rules "
    "left, the strictest policy governs (presumption_of_denial over case_by_case over "
    "approval; on a tie, the first in the pack's order): a license application is "
    "reviewed under every requirement that applies. The exceptions available are those "
    "every rule left allows, none while a rule that suspends exceptions holds, and a "
    "cited exception covers the item only if its citation carries the reference every "
    "such rule asks for."
)
"""How the governing policy of an item is chosen (printed by `provenance rules show`)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Model):
    id: RuleId
    title: Annotated[str, Field(min_length=1)]
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]


class ClassificationRule(_Model):
    id: RuleId
    eccn: Annotated[str, Field(min_length=2, max_length=32)]
    when: Annotated[str, Field(min_length=1)]
    sources: Annotated[list[RuleId], Field(min_length=1)]
    note: str = ""


class ExceptionRef(_Model):
    """A license exception whose citation must carry a reference of a given form."""

    code: ExceptionCode
    reference: Annotated[str, Field(min_length=1, max_length=200)]
    """A regular expression the whole reference must match (`NAC:A1234567` cites NAC
    with the reference `A1234567`)."""
    note: str = ""

    @model_validator(mode="after")
    def _compiles(self) -> ExceptionRef:
        try:
            re.compile(self.reference)
        except re.error as exc:
            raise ValueError(
                f"reference {self.reference!r} is not a regular expression: {exc}"
            ) from None
        return self


class LicensingRule(_Model):
    id: RuleId
    when: Annotated[str, Field(min_length=1)]
    policy: Policy | None = None
    """Review policy of license applications; None only for a rule that suspends exceptions."""
    exceptions: list[ExceptionCode | ExceptionRef] = Field(default_factory=list)
    supersedes: list[RuleId] = Field(default_factory=list)
    """Licensing rules this one sets aside for an item when both hold."""
    suspends_exceptions: bool = False
    """No license exception is available while this rule holds (it requires no license)."""
    sources: Annotated[list[RuleId], Field(min_length=1)]
    note: str = ""

    @model_validator(mode="after")
    def _policy_or_suspension(self) -> LicensingRule:
        if self.suspends_exceptions:
            if self.policy is not None or self.exceptions:
                raise ValueError("a rule that suspends exceptions has no policy and no exceptions")
        elif self.policy is None:
            raise ValueError("policy is required (unless the rule suspends exceptions)")
        if self.id in self.supersedes:
            raise ValueError("a rule cannot supersede itself")
        return self

    @property
    def requires_license(self) -> bool:
        return self.policy is not None

    def codes(self) -> set[str]:
        """The exception codes the rule allows."""
        return {e if isinstance(e, str) else e.code for e in self.exceptions}

    def reference_for(self, code: str) -> str | None:
        """The form a citation of `code` must carry under this rule (None: any)."""
        for e in self.exceptions:
            if isinstance(e, ExceptionRef) and e.code == code:
                return e.reference
        return None


class FlagRule(_Model):
    id: RuleId
    scope: Literal["item", "shipment"] = "item"
    severity: Severity
    when: Annotated[str, Field(min_length=1)]
    message: Annotated[str, Field(min_length=1)]
    sources: Annotated[list[RuleId], Field(min_length=1)]
    category: Literal["classification", "relabeling", "diversion", "licensing", "screening"]


class PackFile(_Model):
    """A pack as written (before `extends` is resolved)."""

    id: RuleId
    title: Annotated[str, Field(min_length=1)]
    effective_from: dt.date
    compliance_from: dt.date | None = None
    """When compliance became due, if later than `effective_from`."""
    rescinded_on: dt.date | None = None
    """When the rule was rescinded: a pack rescinded before its compliance date never bound."""
    extends: RuleId | None = None
    sources: list[Source] = Field(default_factory=list)
    reference: list[Reference] | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    screening: dict[str, Any] | None = None
    classification: list[ClassificationRule] | None = None
    licensing: list[LicensingRule] = Field(default_factory=list)
    flags: list[FlagRule] = Field(default_factory=list)
    remove: list[RuleId] = Field(default_factory=list)
    notes: str = ""

    @property
    def never_bound(self) -> bool:
        """Rescinded on or before the day compliance was due: it never bound anyone."""
        if self.rescinded_on is None:
            return False
        due = self.compliance_from or self.effective_from
        return self.rescinded_on <= due

    def binding_on(self, on: dt.date) -> bool:
        """Whether shipments on `on` are judged under this pack (dates aside from later packs)."""
        if self.never_bound or on < self.effective_from:
            return False
        return self.rescinded_on is None or on < self.rescinded_on


@dataclass(frozen=True)
class Compiled:
    """A rule with its compiled condition and the facts the condition reads."""

    rule: ClassificationRule | LicensingRule | FlagRule
    program: Any  # cel.Program
    names: tuple[str, ...] = ()
    """`root.field` of every fact the condition names, in order of appearance."""
    many: Any = None
    """The condition over every item at once: `items.map(item, (when))` (cel.Program)."""


@dataclass
class Pack:
    """A resolved, compiled pack: what the engine evaluates."""

    id: str
    title: str
    effective_from: dt.date
    chain: list[str]
    never_bound: bool
    """Rescinded before its compliance date: kept for the record, judges no shipment."""
    sources: dict[str, Source]
    reference: dict[str, Any]
    parameters: dict[str, Any]
    screening: dict[str, Any]
    classification: list[Compiled]
    licensing: list[Compiled]
    flags: list[Compiled]
    digest: str = ""
    document: dict[str, Any] = field(default_factory=dict)
    needed: dict[str, set[str] | None] = field(default_factory=dict)
    """The facts some condition reads (what the engine hands CEL; the rest is not sent)."""
    neutral_item: dict[str, Any] = field(default_factory=dict)
    """The item facts of `vocabulary.sample` (for shipment rules, which see no item)."""
    batched: dict[str, Any] = field(default_factory=dict)
    """Each list of rules as one CEL program giving a list of results (one call, not one a
    rule): `items.map(item, [(when1), (when2), ...])`, or `[...]` for shipment rules."""

    def superseded_by(self) -> dict[str, list[str]]:
        """Licensing rule id -> the rules that supersede it (when they also hold)."""
        out: dict[str, list[str]] = {}
        for compiled in self.licensing:
            assert isinstance(compiled.rule, LicensingRule)
            for target in compiled.rule.supersedes:
                out.setdefault(target, []).append(compiled.rule.id)
        return out

    def rule(self, rule_id: str) -> Compiled | None:
        for compiled in (*self.classification, *self.licensing, *self.flags):
            if compiled.rule.id == rule_id:
                return compiled
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "effective_from": self.effective_from.isoformat(),
            "never_bound": self.never_bound,
            "extends": self.chain[1:],
            "digest": self.digest,
            "rules": {
                "classification": len(self.classification),
                "licensing": len(self.licensing),
                "flags": len(self.flags),
            },
        }


# --- loading ---------------------------------------------------------------------------


def rules_dir(path: str | Path | None = None) -> Path:
    return Path(path) if path is not None else resource_dir("rules")


def _read_pack_file(path: Path) -> PackFile:
    raw = documents.read_mapping(path)
    try:
        return PackFile.model_validate(raw)
    except ValidationError as exc:
        # A value that fits none of a union's forms is reported for each form: the one
        # whose own check failed (value_error) says more than "not a string".
        errors = exc.errors()
        error = next((e for e in errors if e["type"] == "value_error"), errors[0])
        where = ".".join(str(p) for p in error["loc"])
        raise InputError(f"rule pack {path.name}: {where}: {error['msg']}") from None


def _reference(directory: Path, name: str) -> dict[str, Any]:
    path = directory / REFERENCE_DIR / f"{name}.yaml"
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise NotFoundError(f"reference data {path} is not there") from None
    return _read_reference(path, stamp)


@cache
def _read_reference(path: Path, stamp: int) -> dict[str, Any]:
    """Cached per file version: an edited file is read again."""
    del stamp
    return documents.read_mapping(path)


def available(directory: str | Path | None = None) -> dict[str, PackFile]:
    """Every pack file in `rules/packs`, by id."""
    folder = rules_dir(directory) / PACKS_DIR
    found: dict[str, PackFile] = {}
    for path in sorted(folder.glob("*.yaml")):
        pack = _read_pack_file(path)
        if pack.id in found:
            raise InputError(f"rule pack id {pack.id!r} is used by two files")
        found[pack.id] = pack
    if not found:
        raise NotFoundError(f"no rule packs in {folder}")
    return found


def _merge(parent: list[Any], child: list[Any], remove: set[str]) -> list[Any]:
    out = {rule.id: rule for rule in parent if rule.id not in remove}
    for rule in child:
        out[rule.id] = rule
    return list(out.values())


def resolve(pack_id: str, files: dict[str, PackFile], directory: Path) -> Pack:
    """Resolve `extends`, load the reference data, compile and check every rule."""
    chain: list[PackFile] = []
    current: str | None = pack_id
    while current is not None:
        if current not in files:
            message = (
                f"rule pack {chain[-1].id}: extends {current}, which does not exist"
                if chain
                else f"no rule pack {current!r}"
            )
            raise NotFoundError(message, hint="`provenance rules list` shows the packs")
        if any(p.id == current for p in chain):
            raise InputError(f"rule pack {pack_id}: `extends` loops back to {current}")
        chain.append(files[current])
        current = files[current].extends
    sources: dict[str, Source] = {}
    reference: list[str] = []
    parameters: dict[str, Any] = {}
    screening: dict[str, Any] = {}
    classification: list[ClassificationRule] = []
    licensing: list[LicensingRule] = []
    flags: list[FlagRule] = []
    for pack in reversed(chain):
        sources.update({s.id: s for s in pack.sources})
        if pack.reference is not None:
            reference = list(pack.reference)
        parameters.update(pack.parameters)
        if pack.screening:
            screening = {**screening, **pack.screening}
        if pack.classification is not None:
            classification = list(pack.classification)
        removed = set(pack.remove)
        licensing = _merge(licensing, pack.licensing, removed)
        flags = _merge(flags, pack.flags, removed)
    top = chain[0]
    data = {name: _reference(directory, name) for name in reference}
    _check_supersedes(top.id, licensing)
    resolved = Pack(
        id=top.id,
        title=top.title,
        effective_from=top.effective_from,
        chain=[p.id for p in chain],
        never_bound=top.never_bound,
        sources=sources,
        reference=data,
        parameters=parameters,
        screening=screening,
        classification=[],
        licensing=[],
        flags=[],
    )
    resolved.classification = [_compile(resolved, r) for r in classification]
    resolved.licensing = [_compile(resolved, r) for r in licensing]
    resolved.flags = [_compile(resolved, r) for r in flags]
    compiled = (*resolved.classification, *resolved.licensing, *resolved.flags)
    resolved.needed = needed([c.rule.when for c in compiled])
    resolved.neutral_item = sample(parameters)["item"]
    item_flags = [c for c in resolved.flags if c.many is not None]
    shipment_flags = [c for c in resolved.flags if c.many is None]
    for name, group, per_item in (
        ("classification", resolved.classification, True),
        ("licensing", resolved.licensing, True),
        ("item_flags", item_flags, True),
        ("shipment_flags", shipment_flags, False),
    ):
        body = "[" + ", ".join(f"({c.rule.when})" for c in group) + "]"
        resolved.batched[name] = (
            group,
            cel.compile(f"items.map(item, {body})" if per_item else body),
        )
    if not resolved.classification:
        raise InputError(f"rule pack {top.id}: no classification rules")
    resolved.document = {
        "id": top.id,
        "title": top.title,
        "effective_from": top.effective_from.isoformat(),
        "compliance_from": top.compliance_from.isoformat() if top.compliance_from else None,
        "rescinded_on": top.rescinded_on.isoformat() if top.rescinded_on else None,
        "never_bound": top.never_bound,
        "chain": resolved.chain,
        "sources": [s.model_dump() for s in sources.values()],
        "parameters": parameters,
        "screening": screening,
        "classification": [r.model_dump() for r in classification],
        "licensing": [r.model_dump(exclude_defaults=True) for r in licensing],
        "governing": GOVERNING,
        "flags": [r.model_dump() for r in flags],
        "reference": data,
    }
    resolved.digest = canonical.digest(resolved.document)
    return resolved


def _check_supersedes(pack_id: str, licensing: list[LicensingRule]) -> None:
    """Every rule a licensing rule supersedes exists, and no chain of them loops."""
    ids = {r.id for r in licensing}
    edges = {r.id: list(r.supersedes) for r in licensing}
    for rule in licensing:
        for target in rule.supersedes:
            if target not in ids:
                raise InputError(
                    f"rule pack {pack_id}, rule {rule.id}: supersedes {target}, "
                    "which is not a licensing rule of the pack"
                )
    for start in edges:
        seen: list[str] = []
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for target in edges.get(node, []):
                if target == start:
                    loop = " > ".join([*path, target])
                    raise InputError(f"rule pack {pack_id}: supersedes loops: {loop}")
                if target not in seen:
                    seen.append(target)
                    stack.append((target, [*path, target]))


# --- checking conditions -----------------------------------------------------------------

_STRING = re.compile(r"[rRbB]{0,2}(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")
_CHAIN = re.compile(r"(?<![\w.])([A-Za-z_]\w*)((?:\s*\.\s*[A-Za-z_]\w*)*)(\s*\()?")
_MACRO_VAR = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
_KEYWORDS = {"true", "false", "null", "in"}
_ROOTS = "|".join(sorted(FACTS))
_INDEXED = re.compile(rf"(?<![\w.])(?:{_ROOTS})\s*\[|\(\s*(?:{_ROOTS})\s*\)\s*\.")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def referenced(expression: str) -> list[str]:
    """`root.field` of every fact `expression` names (for explanations), in order.

    Roots named bare in a list a macro runs over (`[consignee, end_user].exists(p,
    'EL' in p.screening_lists)`) count with the fields the macro variable reads."""
    text = _STRING.sub('""', expression)
    local = set(_MACRO_VAR.findall(text))
    found: dict[str, None] = {}
    bare: list[str] = []
    through: list[str] = []
    for match in _CHAIN.finditer(text):
        root = match.group(1)
        parts = [p.strip() for p in match.group(2).split(".") if p.strip()]
        if match.group(3) is not None and parts:
            parts = parts[:-1]
        if root in local and parts:
            through.append(parts[0])
        elif root in FACTS and parts:
            found[f"{root}.{parts[0]}"] = None
        elif root in FACTS:
            bare.append(root)
    for root in bare:
        for name in through:
            if name in FACTS[root]:
                found[f"{root}.{name}"] = None
    return list(found)


_LIST_MACRO = re.compile(
    r"\[([^\[\]]*)\]\s*\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,"
)


def needed(expressions: list[str]) -> dict[str, set[str] | None]:
    """Root -> the fields the expressions read (None: the whole root).

    A root named bare in a list a macro ranges over (`[consignee, end_user].exists(p,
    'EL' in p.screening_lists)`) needs only the fields the macro variable reads; named bare
    anywhere else, the whole root is sent."""
    out: dict[str, set[str] | None] = {}

    def add(root: str, fields: set[str] | None) -> None:
        if fields is None or out.get(root, set()) is None:
            out[root] = None
        else:
            out.setdefault(root, set()).update(fields)  # type: ignore[union-attr]

    for expression in expressions:
        text = _STRING.sub('""', expression)
        through: dict[str, set[str]] = {}
        spans: list[tuple[int, int]] = []
        for listed in _LIST_MACRO.finditer(text):
            names = [n.strip() for n in listed.group(1).split(",")]
            if not names or not all(n in FACTS and n != "params" for n in names):
                continue
            variable = listed.group(2)
            read = set(re.findall(rf"(?<![\w.]){variable}\s*\.\s*([A-Za-z_]\w*)", text))
            for name in names:
                through.setdefault(name, set()).update(f for f in read if f in FACTS[name])
            spans.append(listed.span(1))
        for match in _CHAIN.finditer(text):
            root = match.group(1)
            if root not in FACTS:
                continue
            parts = [p.strip() for p in match.group(2).split(".") if p.strip()]
            if match.group(3) is not None and parts:
                parts = parts[:-1]
            if parts:
                add(root, {parts[0]})
            elif through.get(root) and any(a <= match.start() < b for a, b in spans):
                add(root, through[root])
            else:
                add(root, None)
    return out


def check_names(expression: str, parameters: dict[str, Any]) -> list[str]:
    """Names in `expression` that are not facts (empty when all are known)."""
    text = _STRING.sub('""', expression)
    local = set(_MACRO_VAR.findall(text))
    unknown: list[str] = []
    for match in _CHAIN.finditer(text):
        root = match.group(1)
        parts = [p.strip() for p in match.group(2).split(".") if p.strip()]
        called = match.group(3) is not None
        if root in _KEYWORDS or root in local:
            continue
        if root not in FACTS:
            if called and not parts:
                continue  # a function: size(), has(), double(), matches()...
            unknown.append(root)
            continue
        if called and parts:
            parts = parts[:-1]  # a method call: x.startsWith(...), list.exists(...)
        if not parts:
            continue
        known = parameters if root == "params" else FACTS[root]
        if parts[0] not in known:
            unknown.append(f"{root}.{parts[0]}")
    return unknown


def _compile(pack: Pack, rule: ClassificationRule | LicensingRule | FlagRule) -> Compiled:
    where = f"rule pack {pack.id}, rule {rule.id}"
    for source in rule.sources:
        if source not in pack.sources:
            raise InputError(f"{where}: cites source {source!r}, which the pack does not list")
    try:
        program = cel.compile(rule.when)
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"{where}: the condition does not compile: {first}") from None
    unknown = check_names(rule.when, pack.parameters)
    if _INDEXED.search(_STRING.sub('""', rule.when)):
        raise InputError(
            f"{where}: facts are read by name (item.tpp), not by index (item['tpp']) "
            "or from a parenthesised expression, so that every name can be checked"
        )
    if unknown:
        raise InputError(
            f"{where}: the condition names unknown facts: {', '.join(unknown)}",
            hint="`provenance rules facts` lists the vocabulary",
        )
    if isinstance(rule, FlagRule):
        for name in _PLACEHOLDER.findall(rule.message):
            if check_names(name, pack.parameters) or "." not in name:
                raise InputError(f"{where}: the message names an unknown fact {{{name}}}")
    try:
        result = program.execute(sample(pack.parameters))
    except Exception as exc:  # whatever the CEL runtime raises: name the rule
        raise InputError(
            f"{where}: the condition fails on neutral facts: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(result, bool):
        raise InputError(f"{where}: the condition gives {type(result).__name__}, not a bool")
    many = None
    if not (isinstance(rule, FlagRule) and rule.scope == "shipment"):
        many = cel.compile(f"items.map(item, ({rule.when}))")
    return Compiled(rule, program, tuple(referenced(rule.when)), many)


# --- which pack -----------------------------------------------------------------------------


@dataclass
class Library:
    """Every pack of a rules folder, resolved on first use."""

    directory: Path
    files: dict[str, PackFile]
    _resolved: dict[str, Pack] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: str | Path | None = None) -> Library:
        folder = rules_dir(directory)
        return cls(folder, available(folder))

    def get(self, pack_id: str) -> Pack:
        if pack_id not in self._resolved:
            self._resolved[pack_id] = resolve(pack_id, self.files, self.directory)
        return self._resolved[pack_id]

    def in_force(self, on: dt.date) -> Pack:
        """The latest pack binding on `on`: effective on or before it, not rescinded by
        then, and not one that never bound (rescinded before its compliance date)."""
        candidates = [p for p in self.files.values() if p.binding_on(on)]
        if not candidates:
            first = min(self.files.values(), key=lambda p: p.effective_from)
            raise NotFoundError(
                f"no rule pack is in force on {on} (the first is {first.id}, "
                f"from {first.effective_from})"
            )
        chosen = max(candidates, key=lambda p: (p.effective_from, p.id))
        return self.get(chosen.id)

    def for_determination(self, pack_id: str) -> Pack:
        """A pack named to judge shipments by: refused if it never bound."""
        pack = self.get(pack_id)
        if pack.never_bound:
            source = self.files[pack_id]
            raise InputError(
                f"rule pack {pack_id} never bound: it was rescinded on {source.rescinded_on}, "
                f"before compliance was due ({source.compliance_from or source.effective_from}); "
                "no shipment is judged under it",
                hint="`provenance rules show` still shows it; omit --pack to use the pack in force",
            )
        return pack

    def all(self) -> list[Pack]:
        return [
            self.get(pack_id)
            for pack_id in sorted(self.files, key=lambda i: self.files[i].effective_from)
        ]

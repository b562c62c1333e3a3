"""The signed statements: one pydantic model per kind.

Each kind is the predicate of an in-toto Statement whose `predicateType` is
`https://provenance.dev/attestations/<kind>/v1`. A statement is built from a
user's YAML or JSON document (lax: YAML numbers become decimals), and checked
again, strictly, when its envelope is appended: the signed JSON must be exactly
of the model's types (no floats anywhere, integers as integers).

Field types shared by many kinds (countries, dates, money) live here too.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, ClassVar

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
)

from provenance import canonical
from provenance.errors import InputError
from provenance.keys import VerifyingKey

PREDICATE_BASE = "https://provenance.dev/attestations/"


# --- shared field types ----------------------------------------------------------


def _country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _currency(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


def _decimal_in(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a decimal number is needed, not a boolean")
    if isinstance(value, float):
        # YAML and JSON documents written by people: keep the digits as written.
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a decimal number") from exc
    return value


def _finite_non_negative(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ValueError("must be a finite, non-negative decimal")
    return value


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


Country = Annotated[str, AfterValidator(_country)]
Currency = Annotated[str, AfterValidator(_currency)]
DecimalStr = Annotated[
    Decimal,
    BeforeValidator(_decimal_in),
    AfterValidator(_finite_non_negative),
    PlainSerializer(_decimal_text, return_type=str, when_used="json"),
]
"""A non-negative decimal, carried in JSON as a string (never a float)."""

Identifier = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"),
]
"""An id chosen by its author: a party, shipment, product or license id."""

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class Role(StrEnum):
    OPERATOR = "operator"
    MANUFACTURER = "manufacturer"
    EXPORTER = "exporter"
    CONSIGNEE = "consignee"
    END_USER = "end_user"
    FORWARDER = "forwarder"
    AUDITOR = "auditor"
    REGULATOR = "regulator"


def _checked_pem(value: str) -> str:
    try:
        VerifyingKey.from_pem(value)
    except InputError as exc:
        raise ValueError(exc.message) from exc
    return value.strip() + "\n"


PublicKeyPem = Annotated[str, AfterValidator(_checked_pem)]


def _unique(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{value!r} is listed twice")
        seen.add(value)
    return values


# --- the statement base -----------------------------------------------------------


class Statement(BaseModel):
    """Base of every signed statement (the in-toto predicate)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[str]

    def subjects(self) -> list[tuple[str, str]]:
        """The in-toto subjects: (name, sha256 hex) of what this statement speaks of."""
        raise NotImplementedError

    def predicate(self) -> dict[str, Any]:
        """The predicate JSON: exactly what is signed."""
        return self.model_dump(mode="json", exclude_none=True)


def subject(kind: str, identity: dict[str, Any], name: str) -> tuple[str, str]:
    return (name, canonical.digest({"kind": kind, **identity}))


# --- parties and keys (the ledger's own bookkeeping) --------------------------------


class PartyStatement(Statement):
    """Register a party (or update one: same id), with keys it signs with."""

    kind: ClassVar[str] = "party"
    id: Identifier
    name: Text
    roles: Annotated[list[Role], Field(min_length=1), AfterValidator(_unique)]
    country: Country
    headquarters: Country
    address: Text | None = None
    keys: Annotated[list[PublicKeyPem], AfterValidator(_unique)] = Field(default_factory=list)

    def subjects(self) -> list[tuple[str, str]]:
        return [subject("party", {"id": self.id}, f"party/{self.id}")]

    def key_ids(self) -> list[str]:
        return [VerifyingKey.from_pem(pem).keyid for pem in self.keys]


class KeyStatement(Statement):
    """Register one more key for a party."""

    kind: ClassVar[str] = "key"
    party: Identifier
    public_key: PublicKeyPem

    def subjects(self) -> list[tuple[str, str]]:
        keyid = VerifyingKey.from_pem(self.public_key).keyid
        return [(f"key/{keyid}", keyid)]


class KeyRotationStatement(Statement):
    """Replace a party's key by a new one; the old key is revoked at this entry."""

    kind: ClassVar[str] = "key-rotation"
    party: Identifier
    old_key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    public_key: PublicKeyPem
    reason: Text | None = None

    def subjects(self) -> list[tuple[str, str]]:
        new = VerifyingKey.from_pem(self.public_key).keyid
        return [(f"key/{self.old_key}", self.old_key), (f"key/{new}", new)]


class KeyRevocationStatement(Statement):
    """Revoke a key: nothing it signs after this entry is accepted."""

    kind: ClassVar[str] = "key-revocation"
    key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    reason: Text

    def subjects(self) -> list[tuple[str, str]]:
        return [(f"key/{self.key}", self.key)]


# --- the registry ------------------------------------------------------------------

KINDS: dict[str, type[Statement]] = {}


def register(*models: type[Statement]) -> None:
    for model in models:
        KINDS[model.kind] = model


register(PartyStatement, KeyStatement, KeyRotationStatement, KeyRevocationStatement)


def predicate_type(kind: str) -> str:
    return f"{PREDICATE_BASE}{kind}/v1"


_PREDICATE_RE = re.compile(re.escape(PREDICATE_BASE) + r"([a-z-]+)/v1$")


def kind_of(predicate_type_uri: str) -> str:
    match = _PREDICATE_RE.match(predicate_type_uri)
    if not match or match.group(1) not in KINDS:
        raise InputError(f"unknown predicateType {predicate_type_uri!r}")
    return match.group(1)


def model_for(kind: str) -> type[Statement]:
    try:
        return KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise InputError(f"unknown statement kind {kind!r} (known: {known})") from None


def describe_validation_error(kind: str, exc: ValidationError) -> str:
    """One line naming the fields that failed, e.g. `shipment: items[0].quantity: ...`."""
    parts = []
    for error in exc.errors()[:3]:
        loc = ""
        for item in error["loc"]:
            loc += f"[{item}]" if isinstance(item, int) else (f".{item}" if loc else str(item))
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{loc or '(document)'}: {message}")
    more = len(exc.errors()) - 3
    suffix = f" (and {more} more)" if more > 0 else ""
    return f"invalid {kind}: " + "; ".join(parts) + suffix


def from_document(document: Any) -> Statement:
    """Build a statement from a user's document: a mapping with `kind` and fields."""
    if not isinstance(document, dict):
        raise InputError("a statement document must be a mapping with a 'kind' field")
    fields = dict(document)
    kind = fields.pop("kind", None)
    if not isinstance(kind, str):
        raise InputError("the document has no 'kind' field", hint=f"one of: {', '.join(KINDS)}")
    model = model_for(kind)
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise InputError(describe_validation_error(kind, exc)) from exc


def from_predicate(kind: str, predicate: dict[str, Any]) -> Statement:
    """Validate a signed predicate strictly (exact JSON types)."""
    model = model_for(kind)
    try:
        return model.model_validate_json(canonical.dumps(predicate), strict=True)
    except ValidationError as exc:
        raise InputError(describe_validation_error(kind, exc)) from exc


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a kind's document (what `provenance schema KIND` prints)."""
    model = model_for(kind)
    schema = model.model_json_schema(mode="validation")
    schema.setdefault("properties", {})
    schema["properties"] = {"kind": {"const": kind}, **schema["properties"]}
    schema.setdefault("required", []).insert(0, "kind")
    schema["$id"] = predicate_type(kind)
    return schema


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()

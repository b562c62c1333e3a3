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
import functools
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from provenance import documents
from provenance.crypto import canonical
from provenance.crypto.keys import VerifyingKey
from provenance.errors import InputError
from provenance.statements.catalog import Performance, Product, Source
from provenance.tlog.note import Verifier

# --- shared field types ----------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _is_country(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None


@functools.lru_cache(maxsize=1024)
def _is_currency(code: str) -> bool:
    return pycountry.currencies.get(alpha_3=code) is not None


def _country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or not _is_country(code):
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _currency(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 3 or not _is_currency(code):
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


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date_in(value: Any) -> Any:
    if isinstance(value, bool | int | float | Decimal):
        raise ValueError(f"{value!r} is a number, not a date: write it as YYYY-MM-DD")
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        # Here, not by pydantic: a signed predicate's dates are validated strictly, and
        # after this validator pydantic would see a Python str, which strict mode refuses.
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{value} is not a date: {exc}") from None
    return value


def _count_in(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a whole number is needed, not a boolean")
    if isinstance(value, documents.WrittenInt) and value.written.lstrip("+-").isdigit():
        raise ValueError(
            f"{value.written} has a leading zero, which YAML reads as the octal number "
            f"{int(value)}: write it without the zero"
        )
    return value


Date = Annotated[dt.date, BeforeValidator(_date_in)]
"""A date: YYYY-MM-DD (never a number YAML or JSON could read as a timestamp)."""

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


def _bounded(limit: int) -> Callable[[Decimal], Decimal]:
    def check(value: Decimal) -> Decimal:
        if not value.is_finite() or not -limit <= value <= limit:
            raise ValueError(f"must be a decimal from -{limit} to {limit}")
        return value

    return check


Latitude = Annotated[
    Decimal,
    BeforeValidator(_decimal_in),
    AfterValidator(_bounded(90)),
    PlainSerializer(_decimal_text, return_type=str, when_used="json"),
]
Longitude = Annotated[
    Decimal,
    BeforeValidator(_decimal_in),
    AfterValidator(_bounded(180)),
    PlainSerializer(_decimal_text, return_type=str, when_used="json"),
]


class Coordinates(BaseModel):
    """A point on the WGS 84 ellipsoid, in decimal degrees (north and east positive)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    latitude: Latitude
    longitude: Longitude

    def pair(self) -> tuple[float, float]:
        return (float(self.latitude), float(self.longitude))


def _share(value: Decimal) -> Decimal:
    if not 0 < value <= 100:
        raise ValueError("a share is a percentage above 0 and at most 100")
    return value


class Owner(BaseModel):
    """A direct owner of a party and its share (percent of the equity or votes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    party: Identifier
    """The owner, a party id in the ledger."""
    share: Annotated[Decimal, BeforeValidator(_decimal_in), AfterValidator(_share),
                     PlainSerializer(_decimal_text, return_type=str, when_used="json")]  # fmt: skip


class Role(StrEnum):
    OPERATOR = "operator"
    MANUFACTURER = "manufacturer"
    EXPORTER = "exporter"
    CONSIGNEE = "consignee"
    END_USER = "end_user"
    FORWARDER = "forwarder"
    AUDITOR = "auditor"
    REGULATOR = "regulator"
    LAB = "lab"
    """A third-party testing lab (the 2026 rule asks for a qualified US one)."""
    LANDMARK = "landmark"
    """A measurement server at registered coordinates (delay-based location checks)."""


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
    _subjects: list[tuple[str, str]] | None = PrivateAttr(default=None)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A statement is frozen, so its subjects (a digest per chip, thousands for a
        # big shipment) are computed once, however often signing and appending ask.
        super().__init_subclass__(**kwargs)
        compute = cls.__dict__.get("subjects")
        if compute is None or getattr(compute, "cached", False):
            return

        def subjects(self: Statement) -> list[tuple[str, str]]:
            # the private attribute read and written in its dict: pydantic's attribute
            # access for private attributes costs more than the lookup
            private = self.__pydantic_private__
            found: list[tuple[str, str]] | None = (
                private.get("_subjects") if private is not None else None
            )
            if found is None:
                found = compute(self)
                self._subjects = found
            return found

        subjects.cached = True  # type: ignore[attr-defined]
        subjects.__doc__ = compute.__doc__
        cls.subjects = subjects  # type: ignore[method-assign]

    def subjects(self) -> list[tuple[str, str]]:
        """The in-toto subjects: (name, sha256 hex) of what this statement speaks of."""
        raise NotImplementedError

    def predicate(self) -> dict[str, Any]:
        """The predicate JSON: exactly what is signed."""
        return self.model_dump(mode="json", exclude_none=True)


_PLAIN = re.compile(r"[A-Za-z0-9._:/ -]*")


def subject(kind: str, identity: dict[str, str], name: str) -> tuple[str, str]:
    """An in-toto subject: its name, and the SHA-256 of the canonical JSON of its identity."""
    value = {"kind": kind, **identity}
    if all(_PLAIN.fullmatch(v) for v in value.values()):
        # Keys are ours (ASCII), values need no escaping: RFC 8785 is plain text here.
        data = "{" + ",".join(f'"{k}":"{value[k]}"' for k in sorted(value)) + "}"
        return (name, canonical.sha256_hex(data.encode()))
    return (name, canonical.digest(value))


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
    location: Coordinates | None = None
    """Where the party is: required of a landmark (its measurement server's coordinates)."""
    owners: Annotated[list[Owner], Field(min_length=1, max_length=100)] | None = None
    """Its direct owners and their shares (the Affiliates rule reads them)."""

    @model_validator(mode="after")
    def _consistent(self) -> PartyStatement:
        if Role.LANDMARK in self.roles and self.location is None:
            raise ValueError("location: a landmark must register its coordinates")
        if self.owners:
            ids = [o.party for o in self.owners]
            _unique(ids)
            if self.id in ids:
                raise ValueError("owners: a party does not own itself")
            if sum(o.share for o in self.owners) > 100:
                raise ValueError("owners: the shares add up to more than 100")
        return self

    def subjects(self) -> list[tuple[str, str]]:
        return [subject("party", {"id": self.id}, f"party/{self.id}")]


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


# --- products, chips and their movements ----------------------------------------------

DOCUMENT = "document"
"""The validation context key `kinds.from_document` sets: the fields come from a person's
YAML or JSON document, not from a signed predicate (which is validated strictly)."""

_QUOTE_SERIALS = 'serials are strings: quote them, e.g. serials: ["1654923000101"]'


def _serial_in(value: Any, info: ValidationInfo) -> Any:
    """A serial YAML or JSON read as a number: the digits as written, when they are an
    integer's (only in a person's document; a signed predicate holds strings)."""
    if not (info.context and info.context.get(DOCUMENT)) or isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is a boolean, not a serial: {_QUOTE_SERIALS}")
    if isinstance(value, documents.WrittenInt):
        if value.written.isdigit():
            return value.written
        raise ValueError(f"{value.written} is read as the number {int(value)}: {_QUOTE_SERIALS}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is a negative number, not a serial: {_QUOTE_SERIALS}")
        return str(value)
    if isinstance(value, float | Decimal):
        raise ValueError(f"{value!r} is a decimal number, not a serial: {_QUOTE_SERIALS}")
    return value


Serial = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"),
    BeforeValidator(_serial_in),
]
"""A chip's serial number as its manufacturer prints it (and nvidia-smi reports it). In a
document a serial written as an integer (`1654923000101`) is taken as the digits written."""

HsCode = Annotated[str, Field(pattern=r"^[0-9]{4}(?:\.?[0-9]{2}){0,4}$")]
"""A tariff code as declared: "8473.30.1180", "847330", "8542.31"."""

Eccn = Annotated[str, Field(pattern=r"^(?:EAR99|[0-9][A-E][0-9]{3}(?:\.[A-Za-z0-9.]+)?)$")]
"""An Export Control Classification Number, e.g. "3A090.a", "4A090", or "EAR99"."""

MAX_SERIALS = 5000
"""Serials one statement may list (the envelope's payload limit allows about this many)."""

Serials = Annotated[list[Serial], Field(max_length=MAX_SERIALS), AfterValidator(_unique)]


def _serials(*lists: list[str]) -> list[str]:
    return list(dict.fromkeys(s for serials in lists for s in serials))


class Money(BaseModel):
    """An amount in an ISO 4217 currency, the amount a decimal string."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    amount: DecimalStr
    currency: Currency


class Site(BaseModel):
    """Where chips are (a data centre, a warehouse)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    country: Country
    facility: Text
    address: Text | None = None
    location: Coordinates | None = None
    """The site's coordinates (what location checks measure against)."""


def _chips(serials: list[str]) -> list[tuple[str, str]]:
    return [subject("chip", {"serial": s}, f"chip/{s}") for s in serials]


def _in_order(first: str, earlier: dt.date, second: str, later: dt.date) -> None:
    if later < earlier:
        raise ValueError(f"{second} {later} is before {first} {earlier}")


class ProductStatement(Statement, Product):
    """A catalog entry (what serials are checked against), with the sources it cites.

    The same fields as an entry of `rules/products.yaml`; `tpp` and
    `performance_density` are computed, and a document that states them is
    accepted only when they agree. Signing it again with the same id supersedes it.
    """

    kind: ClassVar[str] = "product"
    references: list[Source] = Field(default_factory=list)
    """The documents the `sources` of this product cite (ids and URLs)."""

    @model_validator(mode="after")
    def _references_cover_sources(self) -> ProductStatement:
        known = {source.id for source in self.references}
        for field_name, cited in self.sources.items():
            for ref in cited.refs:
                if ref not in known:
                    raise ValueError(
                        f"sources.{field_name}.refs: {ref!r} is not one of the references"
                    )
        return self

    def subjects(self) -> list[tuple[str, str]]:
        return [subject("product", {"id": self.id}, f"product/{self.id}")]

    def predicate(self) -> dict[str, Any]:
        # The catalog's unknowns are explicit nulls (die area unknown), so keep them;
        # the US availability date (added later) only when recorded, so that products
        # signed before it existed keep their bytes.
        data = self.model_dump(mode="json")
        if data.get("us_available_from") is None:
            data.pop("us_available_from", None)
        return data

    @classmethod
    def from_catalog(cls, product: Product, sources: list[Source]) -> ProductStatement:
        cited = {ref for field_source in product.sources.values() for ref in field_source.refs}
        fields = product.model_dump(exclude={"tpp", "performance_density"})
        return cls.model_validate(
            {**fields, "references": [s.model_dump() for s in sources if s.id in cited]}
        )


class ManufactureStatement(Statement):
    """The serial registry: these serials are chips of this product, for life."""

    kind: ClassVar[str] = "manufacture"
    product: Identifier
    serials: Annotated[Serials, Field(min_length=1)]
    date: Date
    site: Country
    """Country where the chips were made (or packaged)."""

    def subjects(self) -> list[tuple[str, str]]:
        return _chips(self.serials)


class ShipmentItem(BaseModel):
    """One line of a shipment, as the exporter declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    product: Identifier
    """The product as declared (a catalog id, or whatever the papers say)."""
    description: Text
    hs_code: HsCode
    quantity: Annotated[int, Field(ge=1), BeforeValidator(_count_in)]
    serials: Annotated[Serials, Field(min_length=1)]
    unit_value: Money

    @model_validator(mode="after")
    def _quantity_counts_serials(self) -> ShipmentItem:
        if self.quantity != len(self.serials):
            raise ValueError(
                f"quantity is {self.quantity} but {len(self.serials)} serials are listed"
            )
        return self


class ShipmentStatement(Statement):
    """A shipment of chips: who sends them to whom, along which route, under which license."""

    kind: ClassVar[str] = "shipment"
    id: Identifier
    exporter: Identifier
    consignee: Identifier
    end_user: Identifier
    forwarder: Identifier | None = None
    ship_date: Date
    destination: Country
    """The final destination country."""
    route: Annotated[list[Country], Field(min_length=1, max_length=20)]
    """Countries in order, from origin to destination, transit included."""
    license: Identifier | None = None
    """A license id, or a license exception or NLR code (NLR, NAC, ACA, ...)."""
    items: Annotated[list[ShipmentItem], Field(min_length=1, max_length=500)]
    payer: Identifier | None = None
    """Who pays for the goods (a party id, or the payer's own identifier) when known."""
    delivery_address: Literal["commercial", "residential", "unknown"] | None = None
    """What the delivery address is, as the exporter found it."""

    @model_validator(mode="after")
    def _consistent(self) -> ShipmentStatement:
        if self.route[-1] != self.destination:
            raise ValueError(
                f"route: ends in {self.route[-1]}, not in the destination {self.destination}"
            )
        seen: dict[str, int] = {}
        for i, item in enumerate(self.items):
            for j, serial in enumerate(item.serials):
                if serial in seen and seen[serial] != i:
                    raise ValueError(
                        f"items[{i}].serials[{j}]: serial {serial!r} is also listed "
                        f"in items[{seen[serial]}]"
                    )
                seen[serial] = i
        return self

    def serials(self) -> list[str]:
        return _serials(*(item.serials for item in self.items))

    def subjects(self) -> list[tuple[str, str]]:
        return [
            subject("shipment", {"id": self.id}, f"shipment/{self.id}"),
            *_chips(self.serials()),
        ]


class ShipmentAmendmentStatement(Statement):
    """A correction of a registered shipment by its exporter: the shipment's fields in
    full, as they should have been, naming the entry it corrects (the version in force:
    the shipment's entry or its latest amendment) and why. The ledger never changes an
    entry; from this one on, the rules judge the amended facts and the corrected entry
    is shown as superseded."""

    kind: ClassVar[str] = "shipment-amendment"
    corrects: Annotated[int, Field(ge=0), BeforeValidator(_count_in)]
    """The entry it corrects: the shipment's version in force."""
    date: Date
    """When the correction was made."""
    reason: Text
    shipment: ShipmentStatement
    """The corrected shipment, every field (the same `id` and `exporter`)."""

    def serials(self) -> list[str]:
        return self.shipment.serials()

    def subjects(self) -> list[tuple[str, str]]:
        return self.shipment.subjects()


class ShipmentVoidStatement(Statement):
    """A shipment withdrawn by its exporter (registered by mistake, never shipped): naming
    the entry in force and why. A voided shipment is not judged nor counted as an export;
    its entries and flags stay in the ledger."""

    kind: ClassVar[str] = "shipment-void"
    shipment: Identifier
    corrects: Annotated[int, Field(ge=0), BeforeValidator(_count_in)]
    """The entry it voids: the shipment's version in force."""
    date: Date
    reason: Text

    def subjects(self) -> list[tuple[str, str]]:
        return [subject("shipment", {"id": self.shipment}, f"shipment/{self.shipment}")]


class ReceiptStatement(Statement):
    """The consignee or end user received these serials of a shipment."""

    kind: ClassVar[str] = "receipt"
    shipment: Identifier
    serials: Annotated[Serials, Field(min_length=1)]
    date: Date
    country: Country
    site: Text

    def subjects(self) -> list[tuple[str, str]]:
        return [
            subject("shipment", {"id": self.shipment}, f"shipment/{self.shipment}"),
            *_chips(self.serials),
        ]


class Certifications(BaseModel):
    """What the end user certifies (each must be stated, true or false)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    no_military: StrictBool
    """No military end use or military end user."""
    no_wmd: StrictBool
    """No use in weapons of mass destruction or their delivery systems."""
    no_reexport: StrictBool
    """No re-export or transfer without authorisation."""
    no_restricted_hq_access: StrictBool
    """No access by entities headquartered in restricted destinations."""


class EndUseStatement(Statement):
    """The end user's statement of what the chips are for, where, and what it certifies."""

    kind: ClassVar[str] = "end-use"
    shipments: Annotated[list[Identifier], AfterValidator(_unique)] = Field(default_factory=list)
    serials: Serials = Field(default_factory=list)
    date: Date
    """When the statement was signed."""
    end_use: Text
    sector: Text
    site: Site
    facility_power_mw: DecimalStr
    certifications: Certifications
    valid_until: Date

    @model_validator(mode="after")
    def _consistent(self) -> EndUseStatement:
        if not self.shipments and not self.serials:
            raise ValueError("shipments and serials are both empty: name what the statement covers")
        _in_order("date", self.date, "valid_until", self.valid_until)
        return self

    def subjects(self) -> list[tuple[str, str]]:
        return [
            *(subject("shipment", {"id": s}, f"shipment/{s}") for s in self.shipments),
            *_chips(self.serials),
        ]


class ObservedGpu(BaseModel):
    """One GPU as `nvidia-smi -q -x` reported it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    product_name: Text
    serial: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    """As the board reports it (field data: not held to the serial registry's pattern)."""
    uuid: Text | None = None
    pci_device_id: Annotated[str, Field(pattern=r"^0x[0-9A-F]{8}$")] | None = None
    board_part_number: Text | None = None


class Evidence(BaseModel):
    """A file the auditor collected on site, by digest, and what it shows."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    file: Text
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    format: Literal["nvidia-smi-xml"] = "nvidia-smi-xml"
    driver_version: Text | None = None
    devices: list[ObservedGpu] = Field(default_factory=list, max_length=MAX_SERIALS)


class InspectionStatement(Statement):
    """An auditor's visit: the serials seen and missing, findings, and evidence."""

    kind: ClassVar[str] = "inspection"
    site: Site
    date: Date
    serials_seen: Serials = Field(default_factory=list)
    serials_missing: Serials = Field(default_factory=list)
    findings: list[Text] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _consistent(self) -> InspectionStatement:
        missing = set(self.serials_missing)
        for i, serial in enumerate(self.serials_seen):
            if serial in missing:
                raise ValueError(f"serials_seen[{i}]: {serial!r} is also in serials_missing")
        if not (self.serials_seen or self.serials_missing or self.observed_serials()):
            raise ValueError("no serials: list serials_seen, serials_missing or evidence")
        return self

    def observed_serials(self) -> list[str]:
        """Serials the evidence files show."""
        return _serials([d.serial for e in self.evidence for d in e.devices if d.serial])

    def seen(self) -> list[str]:
        """Serials seen: listed as seen, or shown by the evidence (and not listed missing)."""
        missing = set(self.serials_missing)
        return [s for s in _serials(self.serials_seen, self.observed_serials()) if s not in missing]

    def subjects(self) -> list[tuple[str, str]]:
        return _chips(_serials(self.seen(), self.serials_missing))


class LicenseStatement(Statement):
    """An export license: who may ship what, where, how much, and until when."""

    kind: ClassVar[str] = "license"
    id: Identifier
    exporter: Identifier
    consignee: Identifier | None = None
    end_user: Identifier | None = None
    destination: Country
    eccns: Annotated[list[Eccn], Field(min_length=1), AfterValidator(_unique)]
    products: Annotated[list[Identifier], AfterValidator(_unique)] = Field(default_factory=list)
    """Product ids the license covers (empty: any product of those ECCNs)."""
    max_quantity: Annotated[int, Field(ge=1), BeforeValidator(_count_in)] | None = None
    max_value: Money | None = None
    max_tpp: DecimalStr | None = None
    """Cap on the TPP summed over every unit shipped under the license."""
    valid_from: Date
    valid_until: Date
    conditions: list[Text] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> LicenseStatement:
        _in_order("valid_from", self.valid_from, "valid_until", self.valid_until)
        return self

    def subjects(self) -> list[tuple[str, str]]:
        return [subject("license", {"id": self.id}, f"license/{self.id}")]


# --- the evidence the 2026 rule and the chip-tracking proposals ask for ---------------


class LabResult(BaseModel):
    """One serial as the lab measured it: the device's identity (from the driver's own
    report) and the figures that decide the envelope."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    serial: Serial
    identity: ObservedGpu
    """What `nvidia-smi -q -x` reported for the device."""
    performance: Annotated[list[Performance], Field(min_length=1, max_length=16)]
    """Measured dense throughput per data type (TPP = the highest tops x bits)."""
    memory_bandwidth_gbps: Annotated[int, Field(ge=1, le=1_000_000)]
    """Measured total DRAM bandwidth, GB/s."""

    @model_validator(mode="after")
    def _consistent(self) -> LabResult:
        if self.identity.serial is not None and self.identity.serial != self.serial:
            raise ValueError(
                f"identity.serial: the device reports {self.identity.serial!r}, not {self.serial!r}"
            )
        _unique([p.dtype for p in self.performance])
        return self

    @property
    def tpp(self) -> Decimal:
        return max(p.tpp for p in self.performance)


class EvidenceFile(BaseModel):
    """A file kept by its author, by the SHA-256 of its exact bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    file: Text
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    format: Literal["nvidia-smi-xml"] = "nvidia-smi-xml"
    driver_version: Text | None = None


class LabTestStatement(Statement):
    """A third-party lab's test of chips before export: per serial, the measured identity
    and figures (the TPP inputs and the DRAM bandwidth), where and when."""

    kind: ClassVar[str] = "lab-test"
    product: Identifier
    """The product the chips were declared to the lab as (a catalog id)."""
    date: dt.date
    country: Country
    """Where the lab tested them."""
    facility: Text
    results: Annotated[list[LabResult], Field(min_length=1, max_length=MAX_SERIALS)]
    evidence: list[EvidenceFile] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _consistent(self) -> LabTestStatement:
        seen: set[str] = set()
        for i, result in enumerate(self.results):
            if result.serial in seen:
                raise ValueError(f"results[{i}]: serial {result.serial!r} is listed twice")
            seen.add(result.serial)
        return self

    def serials(self) -> list[str]:
        return [r.serial for r in self.results]

    def subjects(self) -> list[tuple[str, str]]:
        return _chips(self.serials())


class KycControls(BaseModel):
    """The know-your-customer and remote-access controls in force (each stated)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    users_identified: StrictBool
    """Every user of the chips is identified and screened before access."""
    remote_access_authenticated: StrictBool
    """Remote access is authenticated per user (no shared or anonymous accounts)."""
    access_logged: StrictBool
    """Access is logged and the logs kept for review."""
    no_d5_hq_training: StrictBool
    """No customer headquartered in D:5 or Macau trains models on the chips."""


class KycStatement(Statement):
    """A consignee's or end user's attestation of the KYC and remote-access controls it
    runs over a period (the 2026 rule's condition; the IaaS guidance)."""

    kind: ClassVar[str] = "kyc"
    party: Identifier
    """Whose controls these are (the signer)."""
    date: dt.date
    valid_from: dt.date
    valid_until: dt.date
    authorised_users: Text
    """Who may use the chips."""
    remote_access: Text
    """How remote access is authenticated."""
    controls: KycControls

    @model_validator(mode="after")
    def _consistent(self) -> KycStatement:
        _in_order("valid_from", self.valid_from, "valid_until", self.valid_until)
        return self

    @property
    def complete(self) -> bool:
        c = self.controls
        return (
            c.users_identified
            and c.remote_access_authenticated
            and c.access_logged
            and c.no_d5_hq_training
        )

    def subjects(self) -> list[tuple[str, str]]:
        return [subject("party", {"id": self.party}, f"party/{self.party}")]


MAX_RTT_MS = Decimal(10_000)
"""Longest round trip a measurement may report (10 s: anything longer is no measurement)."""


def _rtt(value: Decimal) -> Decimal:
    if value <= 0 or value > MAX_RTT_MS:
        raise ValueError(
            f"the round-trip time is in milliseconds, above 0 and at most {MAX_RTT_MS}"
        )
    return value


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("give the time with its offset (2026-03-10T08:00:00Z)")
    return value


class LocationStatement(Statement):
    """A landmark's delay-based measurement of one chip: it sent a nonce, the chip
    answered (its identity from the driver), and the round trip took `rtt_ms`."""

    kind: ClassVar[str] = "location"
    landmark: Identifier
    """The landmark party (the signer), whose coordinates the ledger holds."""
    serial: Serial
    nonce: Annotated[str, Field(pattern=r"^[0-9a-f]{16,128}$")]
    rtt_ms: Annotated[
        Decimal,
        BeforeValidator(_decimal_in),
        AfterValidator(_finite_non_negative),
        AfterValidator(_rtt),
        PlainSerializer(_decimal_text, return_type=str, when_used="json"),
    ]
    measured_at: Annotated[dt.datetime, AfterValidator(_aware)]
    answer: ObservedGpu
    """The chip's answer: its identity as its driver reports it."""

    @model_validator(mode="after")
    def _consistent(self) -> LocationStatement:
        if self.answer.serial is not None and self.answer.serial != self.serial:
            raise ValueError(
                f"answer.serial: the chip answered as {self.answer.serial!r}, not {self.serial!r}"
            )
        return self

    def subjects(self) -> list[tuple[str, str]]:
        return _chips([self.serial])


# --- restricted-party screening ---------------------------------------------------------

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class ScreeningHit(BaseModel):
    """A registered party whose name matched a list entry at or above the threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    party: Identifier
    name: Text
    """The party's name as screened."""
    country: Country | None = None
    score: DecimalStr
    """0-100, two decimals."""
    source: Annotated[str, Field(pattern=r"^[A-Z-]{2,8}$")]
    """The list's short code: EL, UVL, MEU, DPL, SDN, ..."""
    list_name: Text
    entity_number: Text | None = None
    matched_name: Text
    license_requirement: Annotated[str, Field(max_length=4000)] | None = None
    license_policy: Annotated[str, Field(max_length=4000)] | None = None
    severity: Literal["info", "warning", "high", "blocking"]
    """The flag's severity, from the screening policy's severity per list."""
    new: StrictBool
    """True when the previous snapshot did not match this party to this entry (a new flag)."""


class ScreeningListStatement(Statement):
    """A snapshot of a restricted-party list (the U.S. Consolidated Screening List),
    by digest, and what re-screening every registered party against it found.

    The list itself (megabytes) is kept beside the ledger by its SHA-256; this
    entry pins which list was in force from when, and signs the results.
    """

    kind: ClassVar[str] = "screening-list"
    digest: Sha256Hex
    """SHA-256 of the list file's exact bytes."""
    file: Text
    format: Literal["csv", "json"]
    date: Date
    """When the list was downloaded (or published)."""
    counts: dict[
        Annotated[str, Field(pattern=r"^[A-Z-]{2,8}$")],
        Annotated[int, Field(ge=0), BeforeValidator(_count_in)],
    ]
    """Rows per source list."""
    total: Annotated[int, Field(ge=0), BeforeValidator(_count_in)]
    policy: dict[Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")], DecimalStr]
    """The threshold and weights parties were screened with."""
    parties_screened: Annotated[int, Field(ge=0), BeforeValidator(_count_in)]
    hits: list[ScreeningHit] = Field(default_factory=list, max_length=MAX_SERIALS)

    @model_validator(mode="after")
    def _consistent(self) -> ScreeningListStatement:
        if sum(self.counts.values()) != self.total:
            raise ValueError(
                f"counts add up to {sum(self.counts.values())}, not total {self.total}"
            )
        return self

    def subjects(self) -> list[tuple[str, str]]:
        return [
            (f"screening-list/{self.digest}", self.digest),
            *(
                subject("screened", {"party": p}, f"screened/{p}")
                for p in dict.fromkeys(hit.party for hit in self.hits)
            ),
        ]


# --- determinations and resolutions ----------------------------------------------------

FlagId = Annotated[str, Field(pattern=r"^F-[0-9]+-[0-9]+$")]
Severity = Literal["info", "warning", "high", "blocking"]


class PackRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Identifier
    digest: Sha256Hex


class DeterminedFlag(BaseModel):
    """A red flag as a determination raised it: the rule, and the facts it saw."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rule: Annotated[str, Field(min_length=1, max_length=128)]
    category: Annotated[str, Field(min_length=1, max_length=32)]
    severity: Severity
    scope: Literal["item", "shipment"]
    line: Annotated[int, Field(ge=0), BeforeValidator(_count_in)] | None = None
    message: Text
    facts: dict[str, Any]
    """Fact name -> the value it had (decimals as strings: no floats in statements)."""
    sources: list[Annotated[str, Field(min_length=1, max_length=128)]]
    resolution: Literal["cleared", "confirmed", "escalated", "disputed"] | None = None
    """The signed resolution of this flag (raised on the shipment before) in force when the
    determination was made; None while it is open."""


class DeterminationStatement(Statement):
    """What the rules engine decided about a shipment, under which pack (by digest), so
    the verdict can be replayed. Signed by the operator."""

    kind: ClassVar[str] = "determination"
    shipment: Identifier
    shipment_seq: Annotated[int, Field(ge=0), BeforeValidator(_count_in)]
    evaluated_on: Date
    pack: PackRef
    screening_list: Sha256Hex | None = None
    items: list[dict[str, Any]] = Field(max_length=500)
    license: dict[str, Any]
    flags: list[DeterminedFlag] = Field(max_length=2000)
    verdict: Literal["clear", "hold", "license_required", "blocked"]
    """hold: a high red flag is neither cleared nor confirmed by a signed resolution."""

    def subjects(self) -> list[tuple[str, str]]:
        return [subject("shipment", {"id": self.shipment}, f"shipment/{self.shipment}")]


EvidenceRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        pattern=r"^(sha256:[0-9a-f]{64}|(https?|urn|entry):[^\s]+)$",
    ),
]
"""Evidence an answer points to: `sha256:<hex>` of a file, a URL or URN, or `entry:<seq>`."""

ResolutionStatus = Literal["cleared", "confirmed", "escalated", "disputed"]


class ResolutionStatement(Statement):
    """A decision on a red flag (cleared: a false alarm; confirmed; escalated), or the
    exporter's answer to it (disputed, with evidence). Who may give which status to which
    flag is `statements.authority.FLAG_POLICY`. A clearance with `expires` is an allow-list
    disposition (a recurring false positive, signed by a regulator): it clears the flag
    until that date, inclusive, and no longer."""

    kind: ClassVar[str] = "resolution"
    flag: FlagId
    status: ResolutionStatus
    reason: Text
    evidence: list[EvidenceRef] | None = Field(default=None, min_length=1, max_length=50)
    expires: dt.date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ResolutionStatement:
        if self.status == "disputed" and not self.evidence:
            raise ValueError("a dispute names its evidence (evidence: [sha256:..., URL, ...])")
        if self.expires is not None and self.status != "cleared":
            raise ValueError("only a clearance (an allow-list disposition) has an expiry date")
        return self

    @property
    def allow_list(self) -> bool:
        return self.expires is not None

    def subjects(self) -> list[tuple[str, str]]:
        return [(f"flag/{self.flag}", canonical.sha256_hex(self.flag.encode()))]


# --- the ledger's own checkpoint key -----------------------------------------------------

NoteVerifierKey = Annotated[
    str, Field(max_length=300, pattern=r"^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$")
]
"""A C2SP signed-note verifier key: name+hash+base64(0x01 || Ed25519 public key)."""


class CheckpointKeyStatement(Statement):
    """A new checkpoint key for the ledger, announced by its operator: from this entry
    on, checkpoints are signed by both keys until `overlap_until` (a date, inclusive),
    then by the new key only."""

    kind: ClassVar[str] = "checkpoint-key"
    verifier_key: NoteVerifierKey
    replaces: NoteVerifierKey
    overlap_until: Date
    reason: Text | None = None

    @field_validator("verifier_key", "replaces")
    @classmethod
    def _note_key(cls, value: str) -> str:
        try:
            return str(Verifier.parse(value))
        except InputError as exc:
            raise ValueError(exc.message) from exc

    @model_validator(mode="after")
    def _different(self) -> CheckpointKeyStatement:
        if self.verifier_key == self.replaces:
            raise ValueError("the new checkpoint key is the one it replaces")
        if self.verifier_key.split("+")[0] != self.replaces.split("+")[0]:
            raise ValueError("the new checkpoint key must carry the ledger's origin as its name")
        return self

    def subjects(self) -> list[tuple[str, str]]:
        digest = canonical.sha256_hex(self.verifier_key.encode())
        return [(f"checkpoint-key/{digest[:16]}", digest)]


# --- reports ---------------------------------------------------------------------------


class ReportStatement(Statement):
    """A compliance report, signed by whoever issues it (and possibly appended)."""

    kind: ClassVar[str] = "report"
    report: dict[str, Any]
    """The report's JSON (figures as integers and decimal strings: no floats)."""

    def subjects(self) -> list[tuple[str, str]]:
        digest = canonical.digest(self.report)
        return [(f"report/{self.report.get('kind', 'report')}/{digest[:16]}", digest)]

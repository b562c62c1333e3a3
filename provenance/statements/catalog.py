"""The product catalog: what each accelerator is, and the two numbers the EAR judge it by.

`rules/products.yaml` lists real accelerators (see its header for the
conventions; every figure cites its source there, and docs/rules.md tabulates
them): per product the dense TOPS of each data type, the applicable die area,
interconnect and memory bandwidth, the datacenter flag, the PCI device ids the
hardware reports, typical HS codes, a reference unit price, and where every
figure comes from. `load_catalog` reads and validates it into typed, frozen
pydantic models (`extra="forbid"`:
a misspelt key is an error, not a silently ignored field).

Two metrics are computed, never stated (ECCN 3A090, Technical Notes):

* **TPP**, total processing performance = 2 x MacTOPS x bit length of the
  operation, the highest over the data types the chip supports. A dense
  TOPS figure already counts a multiply-accumulate as two operations, so
  TPP = max over `performance` of `tops x bits`. This is exact `Decimal`
  arithmetic: "989.4" x 16 is 15830.4, not 15830.400000000001.
* **Performance density**, PD = TPP / applicable die area (mm^2); None when
  the die area is unknown. The quotient rarely terminates, so it is rounded
  *down* to `PD_PLACES` decimal places, computed from the exact fraction. For
  any threshold written with at most that many decimals (the EAR's 5.92, 3.2,
  1.6) comparing the rounded PD gives the same answer as comparing the exact
  quotient: floor(x) >= t exactly when x >= t, for t on the rounding grid.

Numbers are never floats: decimals are quoted strings in the YAML (a bare
`989.4` is refused, as YAML would read it as a binary float) and serialise as
strings in JSON; integers are integers.

`Catalog.identify` matches what nvidia-smi reports (PCI device id, product
name) to catalog products, so that a chip whose hardware says H100 while its
papers say something else is caught. Every loader failure is an `InputError`
naming the file, the product id and the field. Nothing here prints or exits.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, Rounded
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, Self

import pycountry
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainSerializer,
    PrivateAttr,
    StrictBool,
    StrictInt,
    ValidationError,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

from provenance.errors import InputError, NotFoundError
from provenance.resources import resource_dir
from provenance.statements.inspection import normalise_pci_device_id

__all__ = [
    "CATALOG_FILE",
    "DTYPE_BITS",
    "MAX_CATALOG_BYTES",
    "PD_PLACES",
    "Catalog",
    "FieldSource",
    "MatchBasis",
    "Money",
    "ObservedIdentity",
    "Performance",
    "Product",
    "ProductMatch",
    "Source",
    "default_catalog_path",
    "load_catalog",
    "parse_catalog",
    "validate_product",
]

CATALOG_FILE = "products.yaml"
"""The catalog's file name inside the rules folder."""

MAX_CATALOG_BYTES = 8 * 1024 * 1024
"""Largest accepted catalog file; the shipped one is a few tens of KiB."""

PD_PLACES = 6
"""Decimal places of the performance density, rounded down (see the module notes)."""

DTYPE_BITS: Mapping[str, int] = {
    "fp4": 4,
    "int4": 4,
    "fp6": 6,
    "fp8": 8,
    "int8": 8,
    "fp16": 16,
    "bf16": 16,
    "int16": 16,
    "tf32": 32,  # 19 significant bits, but a 32-bit operation as vendors and BIS count it
    "fp32": 32,
    "int32": 32,
    "fp64": 64,
}
"""Bit length of the operation for the data types whose width is fixed by their name.

Other data type names are accepted with any `bits` from 1 to 64.
"""

_HINT = "see the conventions at the top of rules/products.yaml"

# TPP must be exact: any rounding raises instead of passing silently.
_EXACT = Context(prec=60, traps=[Inexact, Rounded, InvalidOperation, Overflow])
_PD_QUANTUM = 10**PD_PLACES

_DECIMAL_TEXT = re.compile(r"(?:0|[1-9][0-9]{0,11})(?:\.[0-9]{1,6})?")
_SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


# --- value types ---------------------------------------------------------------


def _plain_decimal(value: object) -> Decimal:
    """A non-negative decimal from a string ("989.4"), an int or a Decimal; never a float."""
    if isinstance(value, bool):
        raise ValueError('want a decimal string such as "989.4", not a boolean')
    if isinstance(value, float):
        raise ValueError(
            f'write {value!r} as a quoted string ("{value!r}"): '
            "a bare number with a fraction is a binary float, not an exact decimal"
        )
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite decimal")
        text = format(value, "f")
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f'want a decimal string such as "989.4", got {type(value).__name__}')
    if not _DECIMAL_TEXT.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a plain non-negative decimal such as "
            '"989.4" (at most 12 digits before the point and 6 after, no exponent, no sign)'
        )
    return Decimal(text)


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


def _iso_date(value: object) -> object:
    """An ISO date string (as JSON carries it) as a date; anything else as it is."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError(f"{value} must be greater than zero")
    return value


DecimalText = Annotated[Decimal, PlainSerializer(_decimal_text, return_type=str, when_used="json")]
"""A Decimal that serialises to JSON as a plain decimal string ("15830.4")."""

PositiveDecimal = Annotated[DecimalText, BeforeValidator(_plain_decimal), AfterValidator(_positive)]
"""A decimal > 0, given as a string, an int or a Decimal (never a float)."""

Slug = Annotated[str, Field(pattern=_SLUG, max_length=80)]
Text = Annotated[str, Field(min_length=1, max_length=4000, pattern=r"\S")]
"""Non-blank text."""
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]
PciDeviceId = Annotated[str, Field(pattern=r"^0x[0-9A-F]{8}$")]
"""As nvidia-smi prints it, normalised: "0x" + device id + vendor id, uppercase."""
HsCode = Annotated[str, Field(pattern=r"^[0-9]{4}(?:\.[0-9]{2,4}){0,3}$")]
"""A tariff code as HTSUS/CBP print it: "8473.30.1180", "8542.31.00.40", "8471"."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Performance(_Model):
    """Dense throughput for one data type (sparse datasheet figures must be halved)."""

    dtype: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{1,15}$")]
    bits: Annotated[StrictInt, Field(ge=1, le=64)]
    """Bit length of the operation."""
    tops: PositiveDecimal
    """Dense TOPS (or TFLOPS), a multiply-accumulate counting as two operations."""

    @model_validator(mode="after")
    def _bits_fit_dtype(self) -> Self:
        want = DTYPE_BITS.get(self.dtype)
        if want is not None and want != self.bits:
            raise ValueError(f"{self.dtype} is a {want}-bit operation, not {self.bits}-bit")
        return self

    @property
    def tpp(self) -> Decimal:
        """tops x bits, exactly: this data type's contribution to the TPP."""
        return _EXACT.multiply(self.tops, Decimal(self.bits))


class Money(_Model):
    """An amount in an ISO 4217 currency."""

    amount: PositiveDecimal
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if pycountry.currencies.get(alpha_3=value) is None:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return value


class FieldSource(_Model):
    """Where one figure of a product comes from."""

    refs: list[Slug]
    """Ids of the catalog's `sources`."""
    confidence: Literal["S", "D", "R"]
    """S seen in the cited source; D derived from seen facts; R recalled, unconfirmed."""

    @model_validator(mode="after")
    def _refs_back_the_confidence(self) -> Self:
        if self.confidence != "R" and not self.refs:
            raise ValueError(f"confidence {self.confidence} needs at least one source in refs")
        if len(set(self.refs)) != len(self.refs):
            raise ValueError(f"refs lists a source twice: {self.refs}")
        return self


class Source(_Model):
    """A document a figure was taken from."""

    id: Slug
    title: Text
    url: Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2000)]


_COMPUTED = ("tpp", "performance_density")


class Product(_Model):
    """One accelerator of the catalog, with its computed TPP and performance density."""

    id: Slug
    """Catalog id, e.g. "nvidia-h100-sxm5" (the ids of the table in docs/rules.md)."""
    vendor: Text
    model: Text
    names: Annotated[list[Text], Field(min_length=1)]
    """Marketed names and the names tools print (nvidia-smi's <product_name> among them)."""
    performance: Annotated[list[Performance], Field(min_length=1)]
    die_area_mm2: PositiveDecimal | None
    """Applicable die area: all logic dies of the package, HBM excluded; None if unknown."""
    interconnect_gbps: NonNegativeInt | None
    """Bidirectional chip-to-chip transfer rate, GB/s; None for PCIe-only parts."""
    memory_bandwidth_gbps: NonNegativeInt | None
    memory: Text | None
    datacenter: StrictBool
    """Designed or marketed for datacenters (the PD prongs of 3A090 apply only then)."""
    pci_device_ids: list[PciDeviceId]
    hs_codes: list[HsCode]
    reference_price: Money | None
    us_available_from: Annotated[dt.date, BeforeValidator(_iso_date)] | None = None
    """When the product became commercially available in the US (the 2026 rule covers
    only chips available at its publication); None when not recorded. Not strict: the
    signed predicate carries it as an ISO string, which the wrap validator below hands
    on as Python data, so the string is read before the type is checked."""
    notes: str = ""
    sources: dict[str, FieldSource] = Field(default_factory=dict)
    """Per figure (a field name of this model), where it comes from."""

    @model_validator(mode="wrap")
    @classmethod
    def _stated_metrics_must_agree(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self]
    ) -> Self:
        # `tpp` and `performance_density` are computed. An input that carries
        # them (e.g. this model's own JSON, read back) is accepted only when
        # they equal the computation; a mismatch is an error, never an override.
        stated: dict[str, object] = {}
        if isinstance(data, Mapping) and any(key in data for key in _COMPUTED):
            stated = {key: data[key] for key in _COMPUTED if key in data}
            data = {key: value for key, value in data.items() if key not in _COMPUTED}
        product = handler(data)
        for key, value in stated.items():
            computed: Decimal | None = getattr(product, key)
            if not _same_decimal(value, computed):
                raise ValueError(
                    f"{key} is computed from performance and die_area_mm2, not stated: "
                    f"computed {_show(computed)}, the input says {value!r}"
                )
        return product

    @model_validator(mode="after")
    def _no_duplicates(self) -> Self:
        for field, values in (
            ("names", [_name_key(name) for name in self.names]),
            ("performance", [entry.dtype for entry in self.performance]),
            ("pci_device_ids", self.pci_device_ids),
            ("hs_codes", self.hs_codes),
        ):
            seen: set[str] = set()
            for value in values:
                if value in seen:
                    raise ValueError(f"{field} lists {value!r} twice")
                seen.add(value)
        unknown = sorted(set(self.sources) - _SOURCED_FIELDS)
        if unknown:
            raise ValueError(
                f"sources names {unknown[0]!r}, which is not a field of a product "
                f"(one of: {', '.join(sorted(_SOURCED_FIELDS))})"
            )
        return self

    @computed_field(return_type=DecimalText)  # type: ignore[prop-decorator]
    @property
    def tpp(self) -> Decimal:
        """Total processing performance: max over data types of tops x bits, exact."""
        return max(entry.tpp for entry in self.performance)

    @computed_field(return_type=DecimalText | None)  # type: ignore[prop-decorator]
    @property
    def performance_density(self) -> Decimal | None:
        """TPP per mm^2 of applicable die area, rounded down to PD_PLACES; None if no area."""
        if self.die_area_mm2 is None:
            return None
        exact = Fraction(self.tpp) / Fraction(self.die_area_mm2)
        return Decimal(math.floor(exact * _PD_QUANTUM)).scaleb(-PD_PLACES, _EXACT)

    @property
    def best_performance(self) -> Performance:
        """The data type that sets the TPP (the first of them on a tie)."""
        tpp = self.tpp
        return next(entry for entry in self.performance if entry.tpp == tpp)

    def to_json(self) -> dict[str, Any]:
        """Every field plus `tpp` and `performance_density`; decimals as strings."""
        return self.model_dump(mode="json")

    def summary(self) -> dict[str, Any]:
        """What a product listing shows: id, vendor, model, the metrics and flags."""
        full = self.to_json()
        keys = (
            "id",
            "vendor",
            "model",
            "tpp",
            "performance_density",
            "die_area_mm2",
            "datacenter",
            "interconnect_gbps",
            "memory_bandwidth_gbps",
        )
        return {key: full[key] for key in keys}


_SOURCED_FIELDS = frozenset(Product.model_fields) - {"id", "sources"}


class MatchBasis(StrEnum):
    """What tied an observed device to a catalog product, strongest first."""

    PCI_DEVICE_ID = "pci_device_id"
    """The PCI device and vendor id equal one of the product's `pci_device_ids`."""
    PRODUCT_NAME = "product_name"
    """The product name equals one of the product's names (case, spacing, dashes aside)."""
    FAMILY = "family"
    """Neither matched any product, but the name shares a model code ("h100", "mi300x")
    with the product: a variant the catalog does not list, of that family."""


@dataclass(frozen=True)
class ProductMatch:
    """A catalog product an observed device corresponds to, and why."""

    product: Product
    basis: tuple[MatchBasis, ...]

    def to_json(self) -> dict[str, object]:
        return {"product": self.product.id, "basis": [str(b) for b in self.basis]}


class ObservedIdentity(Protocol):
    """What identify_device reads (an `inspection.ObservedDevice` has both)."""

    @property
    def pci_device_id(self) -> str | None: ...

    @property
    def product_name(self) -> str: ...


class Catalog(_Model):
    """The whole catalog file: its version, the sources it cites, the products."""

    catalog_version: Literal[1]
    sources: list[Source]
    products: list[Product]

    _by_id: dict[str, Product] = PrivateAttr(default_factory=dict)
    _keys_by_id: dict[str, frozenset[str]] = PrivateAttr(default_factory=dict)
    _codes_by_id: dict[str, frozenset[str]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _ids_unique_and_refs_known(self) -> Self:
        source_ids: set[str] = set()
        for source in self.sources:
            if source.id in source_ids:
                raise ValueError(f"source {source.id!r} is listed twice")
            source_ids.add(source.id)
        product_ids: set[str] = set()
        for product in self.products:
            if product.id in product_ids:
                raise ValueError(f"product {product.id!r} is listed twice")
            product_ids.add(product.id)
            for field, cited in product.sources.items():
                for ref in cited.refs:
                    if ref not in source_ids:
                        raise ValueError(
                            f"product {product.id!r}, field sources.{field}.refs: "
                            f"{ref!r} is not one of the catalog's sources"
                        )
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._by_id = {product.id: product for product in self.products}
        for product in self.products:
            known = (*product.names, product.model, f"{product.vendor} {product.model}")
            self._keys_by_id[product.id] = frozenset().union(*map(_name_keys, known))
            self._codes_by_id[product.id] = frozenset().union(*map(_family_codes, known))

    def get(self, product_id: str) -> Product | None:
        """The product with this id, or None."""
        return self._by_id.get(product_id)

    def require(self, product_id: str) -> Product:
        """The product with this id; NotFoundError when the catalog has none."""
        product = self._by_id.get(product_id)
        if product is None:
            guess = did_you_mean(product_id, self._by_id)
            raise NotFoundError(
                f"product {product_id!r} is not in the catalog",
                hint=(f"{guess}; " if guess else "")
                + "`provenance product list` shows the known ids",
            )
        return product

    def identify(
        self, *, pci_device_id: str | None = None, product_name: str | None = None
    ) -> tuple[ProductMatch, ...]:
        """The catalog products a device reporting this PCI id and/or name may be.

        A product matches on its PCI device id ("0x233010DE", "233010de": the
        form is normalised, a malformed id is an InputError) or on one of its
        names (compared without case, spacing, dashes or a leading vendor
        word). Only when nothing matches either way is the name's model code
        tried (FAMILY: "NVIDIA H100 NVL" is of the H100 family). Strongest
        first, catalog order within a strength; empty when nothing matches.
        More than one product means the evidence disagrees or is ambiguous
        (e.g. a name edited to read A100 on a device whose id says H100).
        """
        pci = None if pci_device_id is None else normalise_pci_device_id(pci_device_id)
        keys = _name_keys(product_name) if product_name is not None else frozenset()
        matches: list[ProductMatch] = []
        for product in self.products:
            basis: list[MatchBasis] = []
            if pci is not None and pci in product.pci_device_ids:
                basis.append(MatchBasis.PCI_DEVICE_ID)
            if keys & self._keys_by_id[product.id]:
                basis.append(MatchBasis.PRODUCT_NAME)
            if basis:
                matches.append(ProductMatch(product, tuple(basis)))
        if not matches and product_name is not None:
            codes = _family_codes(product_name)
            matches = [
                ProductMatch(product, (MatchBasis.FAMILY,))
                for product in self.products
                if codes & self._codes_by_id[product.id]
            ]
        strength = list(MatchBasis)
        return tuple(sorted(matches, key=lambda match: strength.index(match.basis[0])))

    def identify_device(self, device: ObservedIdentity) -> tuple[ProductMatch, ...]:
        """`identify` for a device parsed from nvidia-smi output."""
        return self.identify(pci_device_id=device.pci_device_id, product_name=device.product_name)


# --- names -----------------------------------------------------------------------

_VENDOR_WORDS = ("nvidia", "amd", "intel", "huawei", "habana")
_SEPARATORS = re.compile(r"[\s\-_/,;:()\[\]]+")
# Tokens that say how much memory or which form factor, not which chip.
_NOT_A_MODEL_CODE = re.compile(
    r"[0-9]+(?:gb|g|tb|mb|w)|sxm[0-9]*|pcie|hbm[0-9]*e?|gddr[0-9]*x?|nvl|oam|gen[0-9]+|v[0-9]+"
)


def _name_key(name: str) -> str:
    return " ".join(_SEPARATORS.sub(" ", name.casefold()).split())


def _name_keys(name: str) -> frozenset[str]:
    """The name as compared: normalised, with and without a leading vendor word."""
    key = _name_key(name)
    if not key:
        return frozenset()
    keys = {key}
    first, _, rest = key.partition(" ")
    if first in _VENDOR_WORDS and rest:
        keys.add(rest)
    return frozenset(keys)


def _family_codes(name: str) -> frozenset[str]:
    """Model codes in a name: "h100", "mi300x", "910b", "4090"; not "80gb" or "sxm5".

    A PCI database name ("GH100 [H100 SXM5 80GB]") counts by its bracketed
    part only, so that the die code GH100 does not tie the H20 to the H100;
    parenthesised remarks ("(HGX, 1000 W)") are ignored.
    """
    bracketed = re.search(r"\[([^\]]*)\]", name)
    text = bracketed.group(1) if bracketed else name
    text = re.sub(r"\([^)]*\)", " ", text)
    codes: set[str] = set()
    for token in _name_key(text).split():
        if _NOT_A_MODEL_CODE.fullmatch(token):
            continue
        has_digit = any(ch.isdigit() for ch in token)
        has_letter = any(ch.isalpha() for ch in token)
        if (has_digit and has_letter) or (token.isdigit() and len(token) >= 3):
            codes.add(token)
    return frozenset(codes)


# --- loading -----------------------------------------------------------------------


def default_catalog_path() -> Path:
    """rules/products.yaml of this installation."""
    return resource_dir("rules") / CATALOG_FILE


def load_catalog(path: str | os.PathLike[str] | None = None) -> Catalog:
    """Read and validate a catalog file (default: the packaged rules/products.yaml).

    `path` may also name a folder holding a products.yaml. Errors are
    InputErrors naming the file, the product id and the field.
    """
    file = default_catalog_path() if path is None else Path(path)
    if file.is_dir():
        file = file / CATALOG_FILE
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_CATALOG_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{file}: no such catalog file", hint=_HINT) from None
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror or exc}", hint=_HINT) from None
    return parse_catalog(data, source=str(file))


def parse_catalog(data: bytes | str, *, source: str = "<catalog>") -> Catalog:
    """Validate catalog YAML (or JSON, a subset of it); `source` names it in errors."""
    raw = _load_yaml(data, source)
    if not isinstance(raw, dict):
        raise InputError(
            f"{source}: a catalog is a mapping with catalog_version, sources and products, "
            f"not {_kind(raw)}",
            hint=_HINT,
        )
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        raise _input_error(exc, raw, source) from None


def validate_product(raw: object, *, source: str = "<product>") -> Product:
    """Validate one product (a mapping, as parsed from YAML or JSON) outside a catalog.

    Source ids in its `sources` are not checked against any list here.
    """
    try:
        return Product.model_validate(raw)
    except ValidationError as exc:
        raise _input_error(exc, {"products": [raw]}, source, prefix=("products", 0)) from None


_MAX_YAML_DEPTH = 32
"""A catalog nests five levels deep; PyYAML composes recursively."""


class _CatalogLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and anchors/aliases.

    PyYAML keeps the last of two equal keys without a word, which would let a
    second `die_area_mm2` override the first unnoticed; and aliases let a few
    bytes expand to an exponential structure during validation. Nesting is
    bounded, as PyYAML would otherwise recurse until Python's stack runs out.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            raise ComposerError(
                None, None, "anchors and aliases (*name) are not accepted", event.start_mark
            )
        if self._depth >= _MAX_YAML_DEPTH:  # PyYAML composes recursively
            raise ComposerError(
                None, None, f"nested more than {_MAX_YAML_DEPTH} levels deep", event.start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable: the base class reports it
                break
            if duplicate:
                raise ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"the key {key!r} appears twice",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _load_yaml(data: bytes | str, source: str) -> object:
    size = len(data.encode() if isinstance(data, str) else data)
    if size > MAX_CATALOG_BYTES:
        raise InputError(
            f"{source} is too large for a catalog: more than {MAX_CATALOG_BYTES} bytes", hint=_HINT
        )
    try:
        return yaml.load(data, Loader=_CatalogLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "malformed"
        raise InputError(f"{source} is not valid YAML{where}: {problem}", hint=_HINT) from None
    except yaml.YAMLError as exc:
        raise InputError(f"{source} is not valid YAML: {exc}", hint=_HINT) from None
    except ValueError as exc:  # e.g. an integer beyond Python's 4300-digit conversion limit
        raise InputError(f"{source} is not a usable catalog: {exc}", hint=_HINT) from None


# --- errors ------------------------------------------------------------------------

_MAX_REPORTED = 5


def _input_error(
    exc: ValidationError, raw: Mapping[str, Any], source: str, prefix: tuple[str | int, ...] = ()
) -> InputError:
    described = [_describe(error, raw, prefix) for error in exc.errors(include_url=False)]
    parts: list[str] = []
    previous: str | None = None
    for what, detail in described[:_MAX_REPORTED]:
        if what is None:
            parts.append(detail)
        elif what == previous:
            parts.append(detail)  # same product: say which only once
        else:
            parts.append(
                f"{what}, {detail}" if detail.startswith("field ") else f"{what}: {detail}"
            )
        previous = what
    more = len(described) - _MAX_REPORTED
    tail = f"; and {more} more error{'s' if more > 1 else ''}" if more > 0 else ""
    return InputError(f"{source}: {'; '.join(parts)}{tail}", hint=_HINT)


def _describe(
    error: ErrorDetails, raw: Mapping[str, Any], prefix: tuple[str | int, ...]
) -> tuple[str | None, str]:
    """(which product or source, or None for the catalog itself; what is wrong where)."""
    loc = (*prefix, *error["loc"])
    what: str | None = None
    rest = loc
    if len(loc) >= 2 and loc[0] in ("products", "sources") and isinstance(loc[1], int):
        what = f"{'product' if loc[0] == 'products' else 'source'} {_label(raw, loc[0], loc[1])}"
        rest = loc[2:]
    kind = error["type"]
    if kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        message = "is not a field of this schema (misspelt?)"
    elif kind in ("value_error", "assertion_error"):
        message = str(error.get("ctx", {}).get("error", error["msg"]))
    else:
        message = error["msg"][:1].lower() + error["msg"][1:] + _got(error.get("input"))
    return what, (f"field {_path(rest)}: {message}" if rest else message)


def _label(raw: Mapping[str, Any], collection: str, index: int) -> str:
    items = raw.get(collection)
    if isinstance(items, list) and index < len(items):
        item = items[index]
        if isinstance(item, Mapping) and isinstance(item.get("id"), str) and item["id"]:
            return repr(item["id"])
    return f"#{index + 1} (no id)"


def _path(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            text += " (the key)"
        else:
            text += f".{part}" if text else part
    return text


def _got(value: object) -> str:
    if isinstance(value, str | int | float | bool | Decimal) or value is None:
        shown = repr(value)
        if len(shown) <= 60:
            return f" (got {shown})"
    return f" (got {_kind(value)})"


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def _same_decimal(stated: object, computed: Decimal | None) -> bool:
    if computed is None or stated is None:
        return stated is None and computed is None
    if isinstance(stated, bool | float) or not isinstance(stated, str | int | Decimal):
        return False
    try:
        return Decimal(stated) == computed
    except InvalidOperation:
        return False


def _show(value: Decimal | None) -> str:
    return "null" if value is None else _decimal_text(value)


def did_you_mean(product_id: str, known: Iterable[str]) -> str | None:
    """`did you mean 'nvidia-h100-sxm5'?` for an id close to known ones (at most three),
    else None."""
    from rapidfuzz import fuzz, process

    choices = list(known)
    found = process.extract(
        product_id.casefold(),
        {c: c.casefold() for c in choices},
        scorer=fuzz.ratio,
        limit=3,
        score_cutoff=70,
    )
    if not found:
        return None
    best = found[0][1]
    names = " or ".join(repr(key) for _, score, key in found if score >= best - 2)
    return f"did you mean {names}?"

"""Tests for provenance.statements.catalog: the product catalog, TPP and performance density.

The reference figures are the published ones (vendors' datasheets as public tables
round them), copied here so that a change of the catalogue is seen.
"""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provenance.errors import InputError, NotFoundError
from provenance.resources import resource_dir
from provenance.statements.catalog import (
    CATALOG_FILE,
    DTYPE_BITS,
    PD_PLACES,
    Catalog,
    MatchBasis,
    Performance,
    Product,
    default_catalog_path,
    load_catalog,
    parse_catalog,
    validate_product,
)
from provenance.statements.inspection import parse_nvidia_smi

SMI = Path(__file__).parents[1] / "data" / "nvidia-smi"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def shipped_text() -> str:
    return default_catalog_path().read_text(encoding="utf-8")


def edited(text: str, old: str, new: str) -> str:
    """The catalog text with the first `old` replaced (in the first product that has it)."""
    assert old in text, old
    return text.replace(old, new, 1)


# --- the shipped catalog against the published figures ----------------------------------

# id: (TPP as the published tables print it, PD as printed (one decimal), or a
# (low, high) range where sources disagree, or None where it says *confirm*).
PUBLISHED_FIGURES: dict[str, tuple[int, Decimal | tuple[int, int] | None]] = {
    "nvidia-h100-sxm5": (15830, Decimal("19.4")),
    "nvidia-h100-pcie": (12096, Decimal("14.9")),
    "nvidia-h800-sxm5": (15830, Decimal("19.4")),
    "nvidia-h200-sxm": (15830, Decimal("19.4")),
    "nvidia-h20": (2368, Decimal("2.9")),
    "nvidia-a100-sxm4": (4992, Decimal("6.0")),
    "nvidia-a800-sxm4": (4992, Decimal("6.0")),
    "nvidia-l40s": (5864, Decimal("9.6")),
    "nvidia-l20": (1912, Decimal("3.1")),
    "nvidia-l4": (1936, Decimal("6.6")),
    "nvidia-rtx-4090": (5286, Decimal("8.7")),
    "nvidia-rtx-4090d": (4707, Decimal("7.7")),
    "nvidia-b200": (36000, (22, 34)),
    "amd-mi300x": (20919, Decimal("22.7")),
    "intel-gaudi3": (29360, None),
    "huawei-ascend-910b": (5100, None),  # "~5,100": FP16 ~320 TF
    "huawei-ascend-910c": (12480, None),
}

# What the catalog's figures give, exactly (tops x bits of the best data type,
# and TPP / die area rounded down to 6 places). The report lists these.
EXACT: dict[str, tuple[str, str | None]] = {
    "nvidia-h100-sxm5": ("15832", "19.449631"),  # FP8 1979 x 8 (FP16 989.4 x 16 = 15830.4)
    "nvidia-h100-pcie": ("12104", "14.869778"),  # FP8 1513 x 8 (datasheet sparse 3026 / 2)
    "nvidia-h800-sxm5": ("15832", "19.449631"),
    "nvidia-h200-sxm": ("15832", "19.449631"),
    "nvidia-h20": ("2368", "2.909090"),
    "nvidia-h20-141gb": ("2368", "2.909090"),  # the H20's compute, 141 GB HBM3e (issue 15)
    "nvidia-a100-sxm4": ("4992", "6.043583"),
    "nvidia-a100-pcie": ("4992", "6.043583"),
    "nvidia-a800-sxm4": ("4992", "6.043583"),
    "nvidia-a40": ("2395.2", "3.814012"),  # FP16 149.7 x 16; 3A090.b (issue 15)
    "nvidia-l40s": ("5864", "9.638395"),
    "nvidia-l20": ("1912", "3.142669"),
    "nvidia-l4": ("1940.0", "6.587436"),  # FP8 242.5 x 8 (datasheet 485 sparse / 2)
    "nvidia-rtx-4090": ("5286.4", "8.689020"),
    "nvidia-rtx-4090d": ("4706.88", "7.736489"),  # FP16 294.18 x 16 beats FP8 588.35 x 8
    "nvidia-rtx-4080": ("3116.8", "8.232435"),
    "nvidia-b200": ("36000", "22.500000"),
    "amd-mi300x": ("20919.2", "22.738260"),
    "amd-mi325x": ("20919.2", "22.738260"),
    "intel-gaudi3": ("29360", "17.109557"),
    "huawei-ascend-910b": ("5120", "7.692192"),
    "huawei-ascend-910c": ("12480", "9.374859"),
}


def test_shipped_catalog_loads_every_export_rules_product(catalog: Catalog) -> None:
    assert catalog.catalog_version == 1
    ids = [product.id for product in catalog.products]
    assert set(PUBLISHED_FIGURES) <= set(ids)
    assert set(ids) == set(EXACT)


@pytest.mark.parametrize("product_id", sorted(PUBLISHED_FIGURES))
def test_tpp_and_pd_agree_with_the_published_figures(catalog: Catalog, product_id: str) -> None:
    product = catalog.require(product_id)
    tpp_printed, pd_printed = PUBLISHED_FIGURES[product_id]
    # The table prints rounded figures (and "~" ones); the catalog has the
    # datasheet's: agree within 0.5 %.
    assert abs(product.tpp - tpp_printed) <= Decimal("0.005") * tpp_printed, product.tpp
    pd = product.performance_density
    assert pd is not None
    if isinstance(pd_printed, Decimal):
        assert pd.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) == pd_printed, pd
    elif isinstance(pd_printed, tuple):
        low, high = pd_printed
        assert low <= pd <= high, pd


@pytest.mark.parametrize("product_id", sorted(EXACT))
def test_exact_tpp_and_pd(catalog: Catalog, product_id: str) -> None:
    product = catalog.require(product_id)
    tpp, pd = EXACT[product_id]
    assert isinstance(product.tpp, Decimal)
    assert str(product.tpp) == tpp
    assert product.performance_density == (None if pd is None else Decimal(pd))
    # The definition, with exact rationals: max of tops x bits; PD floored.
    exact_tpp = max(Fraction(p.tops) * p.bits for p in product.performance)
    assert Fraction(product.tpp) == exact_tpp
    assert product.die_area_mm2 is not None and pd is not None
    quotient = exact_tpp / Fraction(product.die_area_mm2)
    assert Fraction(pd) == Fraction(math.floor(quotient * 10**PD_PLACES), 10**PD_PLACES)


def test_h100_tpp_is_fp8_not_the_rounded_fp16_product(catalog: Catalog) -> None:
    h100 = catalog.require("nvidia-h100-sxm5")
    assert h100.tpp == Decimal("15832")
    assert h100.best_performance.dtype == "fp8"
    fp16 = next(p for p in h100.performance if p.dtype == "fp16")
    assert fp16.tpp == Decimal("15830.4")  # exact: no binary-float residue


def _eccn_2023(product: Product) -> str | None:
    """The Oct 2023 3A090 tests (docs/rules.md), to check the catalog's inputs to them."""
    tpp, pd = product.tpp, product.performance_density
    if tpp >= 4800:
        return "3A090.a"
    if not product.datacenter or pd is None:
        return None
    if tpp >= 1600 and pd >= Decimal("5.92"):
        return "3A090.a"
    if (2400 <= tpp < 4800 and Decimal("1.6") <= pd < Decimal("5.92")) or (
        tpp >= 1600 and Decimal("3.2") <= pd < Decimal("5.92")
    ):
        return "3A090.b"
    return None


@pytest.mark.parametrize(
    ("product_id", "eccn"),
    [
        ("nvidia-h100-sxm5", "3A090.a"),
        ("nvidia-h100-pcie", "3A090.a"),
        ("nvidia-h800-sxm5", "3A090.a"),
        ("nvidia-h200-sxm", "3A090.a"),
        ("nvidia-h20", None),
        ("nvidia-a100-sxm4", "3A090.a"),
        ("nvidia-a800-sxm4", "3A090.a"),
        ("nvidia-l40s", "3A090.a"),
        ("nvidia-l20", None),
        ("nvidia-l4", "3A090.a"),
        ("nvidia-rtx-4090", "3A090.a"),
        ("nvidia-rtx-4090d", None),
        ("nvidia-rtx-4080", None),
        ("nvidia-b200", "3A090.a"),
        ("amd-mi300x", "3A090.a"),
        ("intel-gaudi3", "3A090.a"),
    ],
)
def test_figures_give_the_expected_eccn_of_export_rules(
    catalog: Catalog, product_id: str, eccn: str | None
) -> None:
    assert _eccn_2023(catalog.require(product_id)) == eccn


def test_jan_2026_envelope_sides(catalog: Catalog) -> None:
    # Case by case below TPP 21,000 and DRAM bandwidth 6,500 GB/s (docs/rules.md).
    def inside(product_id: str) -> bool:
        product = catalog.require(product_id)
        bandwidth = product.memory_bandwidth_gbps
        return product.tpp < 21000 and bandwidth is not None and bandwidth < 6500

    assert inside("nvidia-h200-sxm") and inside("amd-mi300x") and inside("amd-mi325x")
    assert not inside("nvidia-b200") and not inside("intel-gaudi3")


@pytest.mark.parametrize(
    ("product_id", "pci_device_id"),
    [
        ("nvidia-h100-sxm5", "0x233010DE"),
        ("nvidia-h100-pcie", "0x233110DE"),
        # Some published tables give 0x232210DE for "H800 80GB"; the PCI ID database
        # (and NVML's names) say 0x2322 is the H800 *PCIe*, 0x2324 the H800 SXM
        # ("NVIDIA H800 80GB HBM3"), which is what this catalog entry is.
        ("nvidia-h800-sxm5", "0x232410DE"),
        ("nvidia-h200-sxm", "0x233510DE"),
        ("nvidia-h20", "0x232910DE"),
        ("nvidia-a100-sxm4", "0x20B210DE"),
        ("nvidia-a100-pcie", "0x20B510DE"),
        ("nvidia-a800-sxm4", "0x20F310DE"),
        ("nvidia-l4", "0x27B810DE"),
    ],
)
def test_pci_device_ids_of_export_rules(
    catalog: Catalog, product_id: str, pci_device_id: str
) -> None:
    assert pci_device_id in catalog.require(product_id).pci_device_ids


def test_shipped_data_is_consistent(catalog: Catalog) -> None:
    vendor_ids = {"NVIDIA": {"10DE"}, "AMD": {"1002"}, "Intel": {"1DA3", "8086"}}
    seen_pci: dict[str, str] = {}
    for product in catalog.products:
        for pci in product.pci_device_ids:
            assert pci[6:] in vendor_ids[product.vendor], (product.id, pci)
            assert pci not in seen_pci, (product.id, seen_pci.get(pci))
            seen_pci[pci] = product.id
        # Every figure says where it comes from.
        figures = ["performance", "die_area_mm2", "interconnect_gbps", "memory_bandwidth_gbps"]
        figures += ["datacenter", "pci_device_ids", "reference_price"]
        assert set(figures) <= set(product.sources), product.id
        assert product.names and product.hs_codes


def test_json_has_no_floats(catalog: Catalog) -> None:
    def walk(value: object) -> None:
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    dumped = catalog.model_dump(mode="json")
    walk(dumped)
    h100 = catalog.require("nvidia-h100-sxm5").to_json()
    assert h100["tpp"] == "15832"
    assert h100["performance_density"] == "19.449631"
    assert h100["performance"][1] == {"dtype": "fp16", "bits": 16, "tops": "989.4"}
    assert json.loads(json.dumps(dumped)) == dumped


def test_summary_has_what_product_list_shows(catalog: Catalog) -> None:
    summary = catalog.require("nvidia-rtx-4090d").summary()
    assert summary == {
        "id": "nvidia-rtx-4090d",
        "vendor": "NVIDIA",
        "model": "GeForce RTX 4090 D",
        "tpp": "4706.88",
        "performance_density": "7.736489",
        "die_area_mm2": "608.4",
        "datacenter": False,
        "interconnect_gbps": None,
        "memory_bandwidth_gbps": 1008,
    }


def test_round_trip_through_json(catalog: Catalog) -> None:
    for product in catalog.products:
        assert Product.model_validate(product.to_json()) == product
        assert Product.model_validate(product.model_dump()) == product
    assert Catalog.model_validate(catalog.model_dump(mode="json")) == catalog


def test_stated_tpp_must_equal_the_computed_one(catalog: Catalog) -> None:
    raw = catalog.require("nvidia-h20").to_json()
    raw["tpp"] = "4800"
    with pytest.raises(
        InputError,
        match=r"^h20\.json: product 'nvidia-h20': tpp is computed from performance and "
        r"die_area_mm2, not stated: computed 2368, the input says '4800'",
    ):
        validate_product(raw, source="h20.json")
    raw["tpp"] = "2368"
    raw["performance_density"] = None  # the area is known: PD is not null
    with pytest.raises(InputError, match=r"performance_density is computed .* computed 2\.909090"):
        validate_product(raw, source="h20.json")


def test_products_are_frozen(catalog: Catalog) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
        catalog.require("nvidia-h20").datacenter = False  # type: ignore[misc]


def test_get_and_require(catalog: Catalog) -> None:
    assert catalog.get("nvidia-h100-sxm5") is catalog.require("nvidia-h100-sxm5")
    assert catalog.get("sandkyan-adapter") is None
    with pytest.raises(NotFoundError, match=r"product 'sandkyan-adapter' is not in the catalog"):
        catalog.require("sandkyan-adapter")


# --- loading -------------------------------------------------------------------


def test_default_path_is_the_packaged_rules_folder() -> None:
    assert default_catalog_path() == resource_dir("rules") / CATALOG_FILE
    assert default_catalog_path().is_file()


def test_load_from_a_file_or_a_folder(tmp_path: Path, shipped_text: str, catalog: Catalog) -> None:
    (tmp_path / CATALOG_FILE).write_text(shipped_text, encoding="utf-8")
    assert load_catalog(tmp_path) == catalog
    assert load_catalog(tmp_path / CATALOG_FILE) == catalog
    assert load_catalog(str(tmp_path / CATALOG_FILE)) == catalog


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.yaml: no such catalog file$") as caught:
        load_catalog(tmp_path / "nope.yaml")
    assert caught.value.exit_code == 2
    with pytest.raises(InputError, match=rf"{CATALOG_FILE}: no such catalog file$"):
        load_catalog(tmp_path)  # a folder without products.yaml


def test_json_catalog_is_accepted(catalog: Catalog) -> None:
    text = json.dumps(catalog.model_dump(mode="json"))
    assert parse_catalog(text, source="catalog.json") == catalog


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        (
            'tops: "989.4"',
            "tops: 989.4",
            r"product 'nvidia-h100-sxm5', field performance\[1\]\.tops: write 989\.4 as a "
            r'quoted string \("989\.4"\)',
        ),
        (
            'die_area_mm2: "814"',
            'die_area_mm2: "814 mm2"',
            r"product 'nvidia-h100-sxm5', field die_area_mm2: '814 mm2' is not a plain "
            r"non-negative decimal",
        ),
        (
            'die_area_mm2: "814"',
            'die_area_mm2: "0"',
            r"product 'nvidia-h100-sxm5', field die_area_mm2: 0 must be greater than zero",
        ),
        (
            'die_area_mm2: "814"',
            'die_area_mm: "814"',
            r"product 'nvidia-h100-sxm5', field die_area_mm2: is required; "
            r"field die_area_mm: is not a field of this schema \(misspelt\?\)$",
        ),
        (
            "{dtype: fp16, bits: 16,",
            "{dtype: fp16, bits: 8,",
            r"product 'nvidia-h100-sxm5', field performance\[1\]: "
            r"fp16 is a 16-bit operation, not 8-bit",
        ),
        (
            "interconnect_gbps: 900",
            'interconnect_gbps: "900"',
            r"product 'nvidia-h100-sxm5', field interconnect_gbps: input should be a valid "
            r"integer \(got '900'\)",
        ),
        (
            "datacenter: true",
            'datacenter: "true"',
            r"product 'nvidia-h100-sxm5', field datacenter: input should be a valid boolean",
        ),
        (
            'pci_device_ids: ["0x233010DE"]',
            "pci_device_ids: [0x233010DE]",  # YAML reads a bare 0x... as an integer
            r"product 'nvidia-h100-sxm5', field pci_device_ids\[0\]: input should be a valid "
            r"string \(got 590352606\)",
        ),
        (
            'pci_device_ids: ["0x233010DE"]',
            'pci_device_ids: ["0x233010de"]',
            r"field pci_device_ids\[0\]: string should match pattern",
        ),
        (
            'pci_device_ids: ["0x233010DE"]',
            'pci_device_ids: ["0x233010DE", "0x233010DE"]',
            r"product 'nvidia-h100-sxm5': pci_device_ids lists '0x233010DE' twice",
        ),
        (
            'currency: "USD"',
            'currency: "XYZ"',
            r"field reference_price\.currency: 'XYZ' is not an ISO 4217 currency code",
        ),
        (
            "performance: {refs: [hpctech-h100, klockwood-h100], confidence: S}",
            "performance: {refs: [hpctech-h100, no-such-source], confidence: S}",
            r"product 'nvidia-h100-sxm5', field sources\.performance\.refs: 'no-such-source' "
            r"is not one of the catalog's sources",
        ),
        (
            "performance: {refs: [hpctech-h100, klockwood-h100], confidence: S}",
            "performance: {refs: [], confidence: S}",
            r"field sources\.performance: confidence S needs at least one source in refs",
        ),
        (
            "performance: {refs: [hpctech-h100, klockwood-h100], confidence: S}",
            "performanse: {refs: [hpctech-h100], confidence: S}",
            r"product 'nvidia-h100-sxm5': sources names 'performanse', which is not a field",
        ),
        (
            "  - id: nvidia-h100-pcie\n",
            "  - id: nvidia-h100-sxm5\n",
            r"product 'nvidia-h100-sxm5' is listed twice",
        ),
        (
            "  - id: nvidia-h100-pcie\n",
            "  - id: NVIDIA H100 PCIe\n",
            r"product 'NVIDIA H100 PCIe', field id: string should match pattern",
        ),
        (
            "catalog_version: 1",
            "catalog_version: 2",
            r"field catalog_version: input should be 1 \(got 2\)$",
        ),
    ],
)
def test_bad_catalog_names_product_and_field(
    shipped_text: str, old: str, new: str, error: str
) -> None:
    with pytest.raises(InputError, match=rf"^products\.yaml: .*{error}|^products\.yaml: {error}"):
        parse_catalog(edited(shipped_text, old, new), source="products.yaml")


def test_error_message_forms(shipped_text: str) -> None:
    text = edited(shipped_text, 'tops: "989.4"', "tops: 989.4")
    with pytest.raises(InputError) as caught:
        parse_catalog(text, source="products.yaml")
    assert caught.value.message == (
        "products.yaml: product 'nvidia-h100-sxm5', field performance[1].tops: write 989.4 as "
        'a quoted string ("989.4"): a bare number with a fraction is a binary float, not an '
        "exact decimal"
    )
    assert caught.value.hint is not None
    assert caught.value.__cause__ is None


def test_many_errors_are_summarised(shipped_text: str) -> None:
    text = shipped_text.replace("datacenter: true", 'datacenter: "yes"')
    with pytest.raises(InputError, match=r"; and \d+ more errors$"):
        parse_catalog(text, source="products.yaml")


def test_product_without_id_is_named_by_position(shipped_text: str) -> None:
    text = edited(shipped_text, "  - id: nvidia-h100-pcie\n    vendor", "  - vendor")
    with pytest.raises(InputError, match=r"product #2 \(no id\), field id: is required"):
        parse_catalog(text, source="products.yaml")


def test_duplicate_yaml_key_is_refused(shipped_text: str) -> None:
    text = edited(shipped_text, '    die_area_mm2: "814"\n', '    die_area_mm2: "814"\n' * 2)
    with pytest.raises(
        InputError,
        match=r"^p\.yaml is not valid YAML at line \d+, column 5: the key "
        r"'die_area_mm2' appears twice",
    ):
        parse_catalog(text, source="p.yaml")


def test_yaml_aliases_are_refused() -> None:
    # A few lines that would expand to 10^9 list items during validation.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(InputError, match=r"anchors and aliases \(\*name\) are not accepted"):
        parse_catalog("\n".join(lines), source="bomb.yaml")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("", r"^c\.yaml: a catalog is a mapping .*, not NoneType$"),
        ("- 1\n- 2\n", r"^c\.yaml: a catalog is a mapping .*, not a list$"),
        ("products: [\n", r"^c\.yaml is not valid YAML at line 2"),
        (b"key: \xc3\x28\n", r"^c\.yaml is not valid YAML"),
        ("<html><body>Not Found</body></html>", r"not a string$"),
        (
            "catalog_version: 1\n",
            r"^c\.yaml: field sources: is required; field products: is required$",
        ),
    ],
)
def test_not_a_catalog(data: str | bytes, error: str) -> None:
    with pytest.raises(InputError, match=error):
        parse_catalog(data, source="c.yaml")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        # PyYAML composes recursively: without a bound this is a RecursionError.
        ("[" * 5000 + "]" * 5000, r"^deep\.yaml is not valid YAML at line 1, column 33: nested "),
        ("- " * 3000 + "x", r"nested more than 32 levels deep$"),
        # Python refuses to convert integers of more than 4300 digits (ValueError).
        ("catalog_version: " + "9" * 5000, r"^deep\.yaml is not a usable catalog: Exceeds"),
    ],
)
def test_hostile_yaml_is_an_input_error(data: str, error: str) -> None:
    with pytest.raises(InputError, match=error):
        parse_catalog(data, source="deep.yaml")


def test_oversized_catalog_is_refused() -> None:
    with pytest.raises(InputError, match=r"too large for a catalog"):
        parse_catalog(b"#" * (8 * 1024 * 1024 + 1), source="big.yaml")


def test_validate_product_names_the_field() -> None:
    with pytest.raises(
        InputError,
        match=r"^new\.yaml: product 'acme-x1', field vendor: is required; "
        r"field model: is required; .*field performance: is required; .* and 7 more errors$",
    ):
        validate_product({"id": "acme-x1"}, source="new.yaml")
    with pytest.raises(InputError, match=r"^new\.yaml: product #1 \(no id\): input should be"):
        validate_product(["not", "a", "mapping"], source="new.yaml")


# --- the arithmetic, property-tested ---------------------------------------------

_tops = st.decimals(
    min_value=Decimal("0.000001"), max_value=Decimal("999999"), places=6, allow_nan=False
).map(lambda d: format(d.normalize(), "f"))
_areas = st.decimals(
    min_value=Decimal("0.1"), max_value=Decimal("5000"), places=2, allow_nan=False
).map(lambda d: format(d, "f"))


def _product(performance: list[dict[str, object]], area: str | None) -> Product:
    return Product.model_validate(
        {
            "id": "test-chip",
            "vendor": "Test",
            "model": "Chip",
            "names": ["Test Chip"],
            "performance": performance,
            "die_area_mm2": area,
            "interconnect_gbps": None,
            "memory_bandwidth_gbps": None,
            "memory": None,
            "datacenter": True,
            "pci_device_ids": [],
            "hs_codes": [],
            "reference_price": None,
        }
    )


@settings(max_examples=300, deadline=None)
@given(
    entries=st.dictionaries(st.sampled_from(sorted(DTYPE_BITS)), _tops, min_size=1, max_size=6),
    area=st.one_of(st.none(), _areas),
    threshold=st.integers(min_value=0, max_value=10**9),
)
def test_tpp_and_pd_are_exact(entries: dict[str, str], area: str | None, threshold: int) -> None:
    performance = [
        {"dtype": dtype, "bits": DTYPE_BITS[dtype], "tops": tops} for dtype, tops in entries.items()
    ]
    product = _product(performance, area)
    exact_tpp = max(Fraction(Decimal(tops)) * DTYPE_BITS[dtype] for dtype, tops in entries.items())
    assert Fraction(product.tpp) == exact_tpp
    assert product.best_performance.tpp == product.tpp
    if area is None:
        assert product.performance_density is None
        return
    pd = product.performance_density
    assert pd is not None
    exact_pd = exact_tpp / Fraction(Decimal(area))
    assert Fraction(pd) <= exact_pd < Fraction(pd) + Fraction(1, 10**PD_PLACES)
    # Comparing the rounded PD with a threshold on its grid (5.92, 3.2, ...)
    # answers as the exact quotient would.
    t = Fraction(threshold, 10**PD_PLACES)
    assert (Fraction(pd) >= t) == (exact_pd >= t)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.floats(allow_nan=True), st.booleans(), st.text(max_size=20)))
def test_tops_accepts_only_plain_decimal_strings(value: object) -> None:
    from pydantic import ValidationError

    try:
        performance = Performance.model_validate({"dtype": "fp8", "bits": 8, "tops": value})
    except ValidationError:
        return
    assert isinstance(value, str)
    assert re.fullmatch(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?", value)
    assert performance.tops == Decimal(value) > 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=2000), st.text(max_size=2000)))
def test_arbitrary_input_gives_a_catalog_or_input_error(data: bytes | str) -> None:
    try:
        parse_catalog(data, source="fuzz.yaml")
    except InputError as exc:
        assert exc.message.startswith("fuzz.yaml")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_catalog_gives_a_catalog_or_input_error(
    shipped_text: str, data: st.DataObject
) -> None:
    lines = shipped_text.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        at = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "duplicate", "mangle", "swap"]))
        if action == "delete":
            del lines[at]
        elif action == "duplicate":
            lines.insert(at, lines[at])
        elif action == "swap" and at + 1 < len(lines):
            lines[at], lines[at + 1] = lines[at + 1], lines[at]
        else:
            line = lines[at]
            cut = data.draw(st.integers(min_value=0, max_value=len(line)))
            lines[at] = line[:cut] + data.draw(st.text(max_size=5)) + line[cut:]
    try:
        parse_catalog("".join(lines), source="fuzz.yaml")
    except InputError as exc:
        assert exc.message.startswith("fuzz.yaml")


# --- matching what the hardware says to the catalog ------------------------------


def test_h100_hardware_is_identified(catalog: Catalog) -> None:
    report = parse_nvidia_smi((SMI / "h100-sxm5-x8-driver-565-SYNTHETIC.xml").read_bytes())
    for device in report.devices:
        (match,) = catalog.identify_device(device)
        assert match.product.id == "nvidia-h100-sxm5"
        assert match.basis == (MatchBasis.PCI_DEVICE_ID, MatchBasis.PRODUCT_NAME)
        assert match.to_json() == {
            "product": "nvidia-h100-sxm5",
            "basis": ["pci_device_id", "product_name"],
        }


def test_recorded_a100_is_identified(catalog: Catalog) -> None:
    report = parse_nvidia_smi((SMI / "a100-sxm4-80gb-mig-driver-535.xml").read_bytes())
    (match,) = catalog.identify_device(report.devices[0])
    assert match.product.id == "nvidia-a100-sxm4"
    assert match.basis == (MatchBasis.PCI_DEVICE_ID, MatchBasis.PRODUCT_NAME)


@pytest.mark.parametrize(
    "name", ["tesla-k80-x4-azure-driver-430.xml", "geforce-gtx-1050-windows-driver-436.xml"]
)
def test_uncatalogued_hardware_matches_nothing(catalog: Catalog, name: str) -> None:
    report = parse_nvidia_smi((SMI / name).read_bytes())
    assert all(catalog.identify_device(device) == () for device in report.devices)


def test_relabelled_chip_is_caught(catalog: Catalog) -> None:
    # The papers declare an A100 (or a "SANDKYAN adapter"); the hardware says H100.
    report = parse_nvidia_smi((SMI / "h100-sxm5-x8-driver-565-SYNTHETIC.xml").read_bytes())
    hardware = {m.product.id for d in report.devices for m in catalog.identify_device(d)}
    assert hardware == {"nvidia-h100-sxm5"}
    for declared in ("nvidia-a100-sxm4", "sandkyan-adapter"):
        assert declared not in hardware


def test_edited_name_on_an_h100_shows_both(catalog: Catalog) -> None:
    # A file edited to say A100 while the device id still says H100: the
    # evidence disagrees, and both products are returned, the PCI id first.
    matches = catalog.identify(pci_device_id="0x233010DE", product_name="NVIDIA A100-SXM4-80GB")
    assert [(m.product.id, m.basis) for m in matches] == [
        ("nvidia-h100-sxm5", (MatchBasis.PCI_DEVICE_ID,)),
        ("nvidia-a100-sxm4", (MatchBasis.PRODUCT_NAME,)),
    ]


@pytest.mark.parametrize(
    ("pci", "name", "want"),
    [
        ("233010de", None, ["nvidia-h100-sxm5"]),
        ("0X233510DE", None, ["nvidia-h200-sxm"]),
        (None, "NVIDIA H200", ["nvidia-h200-sxm"]),
        (None, "nvidia  h20", ["nvidia-h20"]),
        (None, "H100 SXM5", ["nvidia-h100-sxm5"]),
        (None, "NVIDIA A100 80GB PCIe", ["nvidia-a100-pcie"]),
        (None, "NVIDIA GeForce RTX 4090 D", ["nvidia-rtx-4090d"]),
        (None, "NVIDIA GeForce RTX 4090", ["nvidia-rtx-4090"]),
        (None, "AMD Instinct MI300X", ["amd-mi300x"]),
        ("0x232410DE", "NVIDIA H800 80GB HBM3", ["nvidia-h800-sxm5"]),
        ("0x74A11002", None, ["amd-mi300x"]),
        (None, "NVIDIA A40", ["nvidia-a40"]),
        ("0x232C10DE", None, ["nvidia-h20-141gb"]),
        (None, "NVIDIA A30", []),
        (None, "", []),
        (None, None, []),
    ],
)
def test_identify(catalog: Catalog, pci: str | None, name: str | None, want: list[str]) -> None:
    matches = catalog.identify(pci_device_id=pci, product_name=name)
    assert [m.product.id for m in matches] == want
    assert all(MatchBasis.FAMILY not in m.basis for m in matches)


@pytest.mark.parametrize(
    ("pci", "name", "want"),
    [
        # Variants the catalog does not list are tied to their family, weakly.
        ("0x232110DE", "NVIDIA H100 NVL", ["nvidia-h100-sxm5", "nvidia-h100-pcie"]),
        ("0x232210DE", "NVIDIA H800 PCIe", ["nvidia-h800-sxm5"]),
        ("0x20B010DE", "NVIDIA A100-SXM4-40GB", ["nvidia-a100-sxm4", "nvidia-a100-pcie"]),
        (None, "NVIDIA H200 NVL", ["nvidia-h200-sxm"]),
    ],
)
def test_identify_by_family(catalog: Catalog, pci: str | None, name: str, want: list[str]) -> None:
    matches = catalog.identify(pci_device_id=pci, product_name=name)
    assert [m.product.id for m in matches] == want
    assert all(m.basis == (MatchBasis.FAMILY,) for m in matches)


def test_family_ignores_the_shared_die_code(catalog: Catalog) -> None:
    # H20, H100, H200 and H800 share the GH100 die: an H20 is not an H100.
    assert [m.product.id for m in catalog.identify(product_name="NVIDIA H20")] == ["nvidia-h20"]
    assert catalog.identify(product_name="NVIDIA GH100") == ()


def test_identify_refuses_a_malformed_pci_id(catalog: Catalog) -> None:
    with pytest.raises(InputError, match="is not a PCI device id"):
        catalog.identify(pci_device_id="0x2330")

"""Loading rule packs: refusals with clear messages, digests, the pack in force, and the
name checks on conditions. Each refusal test copies `rules/` to a temporary folder and
edits one pack file there."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from provenance.compliance.packs import Library, check_names, needed, referenced, rules_dir
from provenance.errors import InputError, NotFoundError, ProvenanceError

REPO_RULES = rules_dir()
LIBRARY = Library.load()


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(REPO_RULES, folder)
    return folder


def edit(rules: Path, name: str, old: str, new: str, *, rule: str | None = None) -> None:
    """Replace the one occurrence of `old` in a file of the rules folder (in one rule's
    block when `rule` is given)."""
    path = rules / name
    text = path.read_text(encoding="utf-8")
    start, end = 0, len(text)
    if rule is not None:
        start = text.index(f"  - id: {rule}\n")
        following = text.find("  - id: ", start + 1)
        end = following if following != -1 else end
    block = text[start:end]
    assert block.count(old) == 1, f"{old!r} occurs {block.count(old)} times in {name} {rule}"
    path.write_text(text[:start] + block.replace(old, new) + text[end:], encoding="utf-8")


def refusal(rules: Path, pack_id: str) -> ProvenanceError:
    with pytest.raises(ProvenanceError) as caught:
        Library.load(rules).get(pack_id)
    return caught.value


# --- refusals --------------------------------------------------------------------------------

BASE = "packs/ear-2022-08.yaml"
OCT_2022 = "packs/ear-2022-10.yaml"
UNDERVALUED = 'when: "item.reference_price > 0.0 && item.value_ratio < params.undervaluation_ratio"'


def test_a_condition_that_does_not_compile(rules: Path) -> None:
    edit(
        rules,
        BASE,
        'when: "item.serials_other_product > 0"',
        'when: "item.serials_other_product >"',
    )
    error = refusal(rules, "ear-2022-08")
    assert isinstance(error, InputError)
    assert error.message.startswith(
        "rule pack ear-2022-08, rule relabel.serial-registered-to-other-product: "
        "the condition does not compile"
    )


def test_an_unknown_fact(rules: Path) -> None:
    edit(
        rules,
        OCT_2022,
        'when: "item.tpp >= 4800.0 && item.interconnect_gbps >= 600"',
        'when: "item.tppp >= 4800.0 && item.interconnect_gbs >= 600"',
    )
    error = refusal(rules, "ear-2022-10")
    assert error.message == (
        "rule pack ear-2022-10, rule eccn.3a090-2022: "
        "the condition names unknown facts: item.tppp, item.interconnect_gbs"
    )
    assert error.hint is not None and "rules facts" in error.hint


def test_an_unknown_parameter(rules: Path) -> None:
    edit(rules, BASE, UNDERVALUED, UNDERVALUED.replace("undervaluation_ratio", "nope"))
    error = refusal(rules, "ear-2022-08")
    assert error.message == (
        "rule pack ear-2022-08, rule relabel.undervalued: "
        "the condition names unknown facts: params.nope"
    )


def test_a_parameter_of_a_child_pack_is_unknown_to_its_parent(rules: Path) -> None:
    edit(
        rules, BASE, UNDERVALUED, UNDERVALUED.replace("undervaluation_ratio", "china_envelope_tpp")
    )
    assert "params.china_envelope_tpp" in refusal(rules, "ear-2022-08").message
    # Each resolved pack compiles the rules it inherits with its own parameters.
    Library.load(rules).get("ear-2026-01")


def test_a_source_the_pack_does_not_list(rules: Path) -> None:
    edit(rules, "packs/ear-2026-01.yaml", "sources: [fr-2026-00789]\n", "sources: [no-such-doc]\n")
    error = refusal(rules, "ear-2026-01")
    assert error.message == (
        "rule pack ear-2026-01, rule licensing.china-reexport: "
        "cites source 'no-such-doc', which the pack does not list"
    )


def test_a_source_of_a_child_pack_is_unknown_to_its_parent(rules: Path) -> None:
    edit(
        rules,
        BASE,
        "[chip-security-act]",
        "[fr-2026-00789]",
        rule="diversion.missing-at-inspection",
    )
    assert "cites source 'fr-2026-00789'" in refusal(rules, "ear-2022-08").message
    # ear-2026-01 lists it, so there the inherited rule may cite it.
    Library.load(rules).get("ear-2026-01")


def test_a_message_placeholder_naming_an_unknown_fact(rules: Path) -> None:
    edit(
        rules,
        BASE,
        'message: "{shipment.missing_at_inspection} serial(s)',
        'message: "{shipment.missing} serial(s)',
    )
    error = refusal(rules, "ear-2022-08")
    assert error.message == (
        "rule pack ear-2022-08, rule diversion.missing-at-inspection: "
        "the message names an unknown fact {shipment.missing}"
    )


def test_a_message_placeholder_naming_a_root_only(rules: Path) -> None:
    edit(
        rules,
        BASE,
        'message: "{shipment.missing_at_inspection} serial(s)',
        'message: "{shipment} serial(s)',
    )
    assert "the message names an unknown fact {shipment}" in refusal(rules, "ear-2022-08").message


def test_extends_a_missing_pack(rules: Path) -> None:
    edit(rules, "packs/ear-2026-01.yaml", "extends: ear-2025-08", "extends: ear-2099-01")
    library = Library.load(rules)  # files are read; `extends` is resolved on first use
    with pytest.raises(NotFoundError, match="extends ear-2099-01, which does not exist"):
        library.get("ear-2026-01")
    library.get("ear-2025-08")  # the others still load


def test_extends_a_missing_pack_names_the_pack_that_extends(rules: Path) -> None:
    edit(rules, "packs/ear-2026-01.yaml", "extends: ear-2025-08", "extends: ear-2099-01")
    assert "ear-2026-01" in refusal(rules, "ear-2026-01").message


def test_an_extends_loop(rules: Path) -> None:
    edit(
        rules,
        BASE,
        "effective_from: 2022-08-26\n",
        "effective_from: 2022-08-26\nextends: ear-2024-12\n",
    )
    error = refusal(rules, "ear-2026-01")
    assert isinstance(error, InputError)
    assert error.message == "rule pack ear-2026-01: `extends` loops back to ear-2024-12"


def test_a_pack_that_extends_itself(rules: Path) -> None:
    edit(
        rules,
        BASE,
        "effective_from: 2022-08-26\n",
        "effective_from: 2022-08-26\nextends: ear-2022-08\n",
    )
    assert refusal(rules, "ear-2022-08").message == (
        "rule pack ear-2022-08: `extends` loops back to ear-2022-08"
    )


def test_a_condition_that_is_not_a_bool(rules: Path) -> None:
    edit(
        rules,
        BASE,
        'when: "item.serials_unregistered > 0 && !item.memory_part"',
        'when: "item.tpp"',
    )
    error = refusal(rules, "ear-2022-08")
    assert error.message == (
        "rule pack ear-2022-08, rule relabel.unregistered-serials: "
        "the condition gives float, not a bool"
    )


def test_a_condition_that_fails_on_neutral_facts(rules: Path) -> None:
    edit(rules, BASE, "shipment.foreign_receipts > 0", "shipment.foreign_receipts > 'none'")
    error = refusal(rules, "ear-2022-08")
    assert error.message.startswith(
        "rule pack ear-2022-08, rule diversion.receipt-of-serials-not-shipped: "
        "the condition fails on neutral facts"
    )


@pytest.mark.parametrize(
    ("rule", "old", "new"),
    [
        # a misspelt field of a macro variable: check_names cannot see it, the CEL run can
        ("license.unverified-list", "p.screening_lists)", "p.screening_list)"),
        (
            "relabel.serial-in-another-open-shipment",
            "item.serials_in_open_shipment > 0",
            "item.serials_in_open_shipment / item.serials > 0",
        ),
    ],
)
def test_a_condition_that_raises_is_refused_with_its_rule(
    rules: Path, rule: str, old: str, new: str
) -> None:
    edit(rules, BASE, old, new, rule=rule)
    error = refusal(rules, "ear-2022-08")
    assert rule in error.message


def test_an_unknown_top_level_key(rules: Path) -> None:
    edit(
        rules,
        "packs/ear-2024-12.yaml",
        "extends: ear-2024-04\n",
        "extends: ear-2024-04\ncolour: blue\n",
    )
    with pytest.raises(InputError) as caught:
        Library.load(rules)
    assert caught.value.message == (
        "rule pack ear-2024-12.yaml: colour: Extra inputs are not permitted"
    )


def test_an_unknown_rule_key(rules: Path) -> None:
    edit(rules, BASE, "scope: shipment", "scop: shipment", rule="diversion.not-received")
    with pytest.raises(InputError, match=r"ear-2022-08\.yaml: flags\.\d+\.scop: Extra inputs"):
        Library.load(rules)


# --- digest ----------------------------------------------------------------------------------


def digests(rules: Path) -> dict[str, str]:
    return {pack.id: pack.digest for pack in Library.load(rules).all()}


def test_the_digest_is_stable(rules: Path) -> None:
    first = digests(rules)
    assert digests(rules) == first
    assert digests(REPO_RULES) == first  # the folder's path is not part of it
    assert len(set(first.values())) == len(first)


def test_the_digest_changes_with_a_threshold(rules: Path) -> None:
    before = digests(rules)
    edit(
        rules,
        "packs/ear-2023-11.yaml",
        'when: "item.tpp >= 4800.0 || (item.datacenter',
        'when: "item.tpp >= 4900.0 || (item.datacenter',
    )
    after = digests(rules)
    changed = {pack_id for pack_id in before if before[pack_id] != after[pack_id]}
    # ear-2023-11 and ear-2024-04, which inherits its classification; ear-2024-12 writes
    # its own list (3A090.c first), so it and the packs after it do not change.
    assert changed == {"ear-2023-11", "ear-2024-04"}


def test_the_digest_changes_with_a_parameter(rules: Path) -> None:
    before = digests(rules)
    edit(
        rules,
        "packs/ear-2026-01.yaml",
        "china_envelope_tpp: 21000.0",
        "china_envelope_tpp: 21001.0",
    )
    after = digests(rules)
    assert {p for p in before if before[p] != after[p]} == {"ear-2026-01"}


def test_the_digest_changes_with_reference_data(rules: Path) -> None:
    edit(rules, "reference/diversion-hubs.yaml", '  - code: "TH"', '  - code: "VN"')
    before, after = digests(REPO_RULES), digests(rules)
    assert all(before[p] != after[p] for p in before)


def test_the_digest_follows_reference_data_edited_after_a_load(rules: Path) -> None:
    before = digests(rules)
    edit(rules, "reference/diversion-hubs.yaml", '  - code: "TH"', '  - code: "VN"')
    after = digests(rules)
    assert all(before[p] != after[p] for p in before)


# --- the pack in force ---------------------------------------------------------------------------

IN_FORCE = [
    ("2022-08-26", "ear-2022-08"),
    ("2022-10-06", "ear-2022-08"),
    ("2022-10-07", "ear-2022-10"),
    ("2022-10-21", "ear-2022-10"),
    ("2023-11-16", "ear-2022-10"),
    ("2023-11-17", "ear-2023-11"),
    ("2024-04-03", "ear-2023-11"),
    ("2024-04-04", "ear-2024-04"),
    ("2024-12-01", "ear-2024-04"),
    ("2024-12-02", "ear-2024-12"),
    ("2025-01-12", "ear-2024-12"),
    # The diffusion rule never bound (rescinded 2025-05-13, compliance due 2025-05-15).
    ("2025-01-13", "ear-2024-12"),
    ("2025-05-12", "ear-2024-12"),
    ("2025-05-13", "ear-2025-05"),
    ("2025-08-07", "ear-2025-05"),
    ("2025-08-08", "ear-2025-08"),
    ("2026-01-14", "ear-2025-08"),
    ("2026-01-15", "ear-2026-01"),
    (dt.date.today().isoformat(), "ear-2026-01"),
]


@pytest.mark.parametrize(("day", "pack_id"), IN_FORCE)
def test_the_pack_in_force(day: str, pack_id: str) -> None:
    assert LIBRARY.in_force(dt.date.fromisoformat(day)).id == pack_id


def test_every_pack_is_in_force_from_its_effective_date_but_the_one_that_never_bound() -> None:
    for pack_id, pack_file in LIBRARY.files.items():
        in_force = LIBRARY.in_force(pack_file.effective_from).id
        assert (in_force == pack_id) is (not pack_file.never_bound), pack_id


def test_no_pack_before_the_first() -> None:
    with pytest.raises(NotFoundError) as caught:
        LIBRARY.in_force(dt.date(2022, 8, 25))
    assert caught.value.message == (
        "no rule pack is in force on 2022-08-25 (the first is ear-2022-08, from 2022-08-26)"
    )


def test_the_rescinded_diffusion_rule_is_not_inherited() -> None:
    pack = LIBRARY.get("ear-2025-05")
    assert pack.chain == [
        "ear-2025-05",
        "ear-2024-12",
        "ear-2024-04",
        "ear-2023-11",
        "ear-2022-10",
        "ear-2022-08",
    ]
    assert pack.rule("license.diffusion-tier2") is None
    assert pack.parameters["tpp_cap_destination"] == 0.0


def test_the_diffusion_rule_never_bound_and_judges_no_shipment() -> None:
    pack = LIBRARY.get("ear-2025-01")
    assert pack.never_bound and pack.summary()["never_bound"] is True
    with pytest.raises(InputError, match="ear-2025-01 never bound: it was rescinded on 2025-05-13"):
        LIBRARY.for_determination("ear-2025-01")
    assert LIBRARY.for_determination("ear-2025-05").id == "ear-2025-05"


def test_a_pack_rescinded_after_it_bound_stops_on_its_rescission(rules: Path) -> None:
    edit(rules, "packs/ear-2025-01.yaml", "compliance_from: 2025-05-15\n", "")
    edit(
        rules, "packs/ear-2025-01.yaml", "rescinded_on: 2025-05-13\n", "rescinded_on: 2025-03-01\n"
    )
    library = Library.load(rules)
    assert library.in_force(dt.date(2025, 2, 1)).id == "ear-2025-01"
    assert library.in_force(dt.date(2025, 3, 1)).id == "ear-2024-12"


# --- supersedes and exceptions in the pack format ------------------------------------------------


def test_supersedes_must_name_a_licensing_rule(rules: Path) -> None:
    edit(
        rules,
        "packs/ear-2026-01.yaml",
        "supersedes: [license.advanced-computing-d5-macau, license.headquartered-d5-macau, "
        "license.is-informed]",
        "supersedes: [license.advanced-computing-d5-macau, license.no-such-rule]",
    )
    assert refusal(rules, "ear-2026-01").message == (
        "rule pack ear-2026-01, rule license.china-macau-envelope-2026: supersedes "
        "license.no-such-rule, which is not a licensing rule of the pack"
    )


def test_a_supersedes_loop_is_refused(rules: Path) -> None:
    edit(
        rules,
        "packs/ear-2023-11.yaml",
        "    sources: [fr-2023-23055, fenwick-2026-policy, oracle-nac-740-8]\n",
        "    supersedes: [license.china-macau-envelope-2026]\n"
        "    sources: [fr-2023-23055, fenwick-2026-policy, oracle-nac-740-8]\n",
        rule="license.advanced-computing-d5-macau",
    )
    # ear-2023-11 alone does not have the rule it names ...
    assert "supersedes license.china-macau-envelope-2026" in refusal(rules, "ear-2023-11").message
    # ... ear-2026-01 does, and the two supersede each other.
    assert refusal(rules, "ear-2026-01").message == (
        "rule pack ear-2026-01: supersedes loops: license.advanced-computing-d5-macau > "
        "license.china-macau-envelope-2026 > license.advanced-computing-d5-macau"
    )


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("    policy: presumption_of_denial\n", "", "policy is required"),
        (
            '    when: "item.datacenter && item.eccn',
            '    suspends_exceptions: true\n    when: "item.datacenter && item.eccn',
            "a rule that suspends exceptions has no policy",
        ),
    ],
)
def test_a_licensing_rule_needs_a_policy_unless_it_suspends(
    rules: Path, old: str, new: str, words: str
) -> None:
    edit(rules, "packs/ear-2023-11.yaml", old, new, rule="license.advanced-computing-d5-macau")
    with pytest.raises(InputError, match=words):
        Library.load(rules)


def test_an_exception_reference_must_be_a_regular_expression(rules: Path) -> None:
    edit(
        rules,
        "packs/ear-2023-11.yaml",
        'reference: "^A[0-9]{6,}$"',
        'reference: "^A[0-9"',
        rule="license.advanced-computing-d5-macau-nac",
    )
    with pytest.raises(InputError, match="is not a regular expression"):
        Library.load(rules)


# --- check_names and referenced ------------------------------------------------------------------

PARAMS = {"undervaluation_ratio": 0.5}

UNKNOWN = [
    # (expression, names check_names reports)
    ("item.tpp >= 4800.0", []),
    ("item.tppp >= 4800.0", ["item.tppp"]),
    ("item . tpp >= 1.0", []),
    ("foo.bar > 1", ["foo"]),
    # string literals: dots, fact-like text and escaped quotes are not names
    ("item.product == 'nvidia.h100' && shipment.destination == \"C.N\"", []),
    ("item.description == 'item.tppp'", []),
    ("item.description == 'it\\'s item.tppp' && item.tppp > 0.0", ["item.tppp"]),
    ('item.description == "it\'s item.tppp"', []),
    # method calls: the last part is the method, not a field
    ("item.eccn.startsWith('3A090')", []),
    ("item.eccn.startsWith('3A090') && item.ecn.startsWith('4A')", ["item.ecn"]),
    ("item.registered_products.size() > 0", []),
    ("item.description.matches('(?i)hbm')", []),
    # functions and keywords
    ("size(item.registered_products) > 0 && has(item.tpp)", []),
    ("shipment.destination in ['CN', 'HK'] && true != false && null == null", []),
    # macros: the bound variable is local; the roots they range over are checked
    ("[a, b].exists(p, p.x)", ["a", "b"]),
    ("[consignee, end_user].exists(p, 'EL' in p.screening_lists)", []),
    ("shipment.destination_groups.exists(g, g == 'D:5' || g == 'macau')", []),
    ("shipment.route.all(c, c != shipment.destination)", []),
    # parameters: the pack's own
    ("item.value_ratio < params.undervaluation_ratio", []),
    ("item.value_ratio < params.nope", ["params.nope"]),
]

REFERENCED = [
    # (expression, the facts an explanation shows, space-separated)
    ("item.tpp >= 4800.0 && item.tpp < 1e5", "item.tpp"),
    (
        "item.product == 'a.b' && shipment.destination == 'item.tpp'",
        "item.product shipment.destination",
    ),
    ("item.eccn.startsWith('3A090') || item.eccn.startsWith('4A090')", "item.eccn"),
    ("size(item.registered_products) > 0 && has(item.tpp)", "item.registered_products item.tpp"),
    ("shipment.route.all(c, c != shipment.destination)", "shipment.route shipment.destination"),
    (
        "item.value_ratio < params.undervaluation_ratio",
        "item.value_ratio params.undervaluation_ratio",
    ),
    # bare roots a macro ranges over count with the fields the macro variable reads
    (
        "[consignee, end_user].exists(p, 'EL' in p.screening_lists)",
        "consignee.screening_lists end_user.screening_lists",
    ),
]


@pytest.mark.parametrize(("expression", "unknown"), UNKNOWN)
def test_check_names(expression: str, unknown: list[str]) -> None:
    assert check_names(expression, PARAMS) == unknown


@pytest.mark.parametrize(("expression", "facts"), REFERENCED)
def test_referenced(expression: str, facts: str) -> None:
    assert referenced(expression) == facts.split()


def test_check_names_accepts_a_raw_string() -> None:
    assert check_names("item.description.matches(r'(?i)\\bhbm')", {}) == []


@pytest.mark.parametrize("condition", ["item.tpp > 1.0 && item['tppp'] > 0.0", "(item).tppp > 0.0"])
def test_index_and_parenthesised_fact_access_is_refused(rules: Path, condition: str) -> None:
    # check_names reads dotted chains; a pack may not hide a name behind [] or ().
    edit(rules, BASE, "item.serials_unregistered > 0 && !item.memory_part", condition)
    with pytest.raises(InputError, match="not by index"):
        Library.load(rules).get("ear-2022-10")


NEEDED = [
    # (expressions, root -> the fields sent to CEL; None: the whole root)
    (["item.tpp > 1.0 && item.pd > 2.0"], {"item": {"tpp", "pd"}}),
    (
        ["[consignee, end_user].exists(p, 'EL' in p.screening_lists)"],
        {"consignee": {"screening_lists"}, "end_user": {"screening_lists"}},
    ),
    # a bare root anywhere else is sent whole, and whole wins over fields
    (["[consignee, end_user].exists(p, p == 'x')"], {"consignee": None, "end_user": None}),
    (["consignee.id == ''", "has(consignee)"], {"consignee": None}),
    (
        ["consignee.id == '' && [consignee].exists(p, p.country_groups.exists(g, g == 'D:5'))"],
        {"consignee": {"id", "country_groups"}},
    ),
]


@pytest.mark.parametrize(("expressions", "fields"), NEEDED)
def test_needed(expressions: list[str], fields: dict[str, set[str] | None]) -> None:
    assert needed(expressions) == fields

"""The matcher: results, country qualifier, policy, bad input, exact pruning."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.errors import InputError
from provenance.screening import ListEntry, ScreeningIndex, ScreeningPolicy, read_list

CSL = Path(__file__).resolve().parents[1] / "data" / "csl" / "consolidated.csv"
CLI_KEYS = {
    "score",
    "list",
    "entity_number",
    "name",
    "matched_name",
    "addresses",
    "license_requirement",
    "license_policy",
}


@cache
def index() -> ScreeningIndex:
    return ScreeningIndex.build(read_list(CSL).entries)


def entry(name: str, *, type: str | None = None) -> ListEntry:
    return ListEntry(record_id=name, source="EL", source_name="EL", name=name, type=type)


def test_exact_name_matches_with_the_list_fields() -> None:
    (match, *_) = index().screen("Zhenhua Qixing Microelectronics Co., Ltd.")
    assert match.score == 100.0
    assert match.source == "EL"
    assert match.list_name == "Entity List (EL) - Bureau of Industry and Security"
    assert match.name == match.matched_name == "Zhenhua Qixing Microelectronics Co., Ltd."
    assert len(match.addresses) == 2
    assert match.license_requirement is not None
    assert match.license_policy is not None
    assert match.above_threshold
    assert match.country is None
    assert match.country_match is None
    assert match.countries == ("CN", "HK")
    encoded = match.to_json()
    assert set(encoded) >= CLI_KEYS
    assert encoded["list"] == "EL"
    assert json.loads(json.dumps(encoded)) == encoded


def test_alias_matches_report_the_alias() -> None:
    (match,) = index().screen("Elena Arkadievna Vorontsova")
    assert match.name == "VORONTSOVA, Yelena Arkadyevna"
    assert match.matched_name == "VORONTSOVA, Elena Arkadievna"
    assert match.entity_number == "61873"
    assert match.source == "SDN"
    assert "MATCHED_ALIAS" in match.reasons


def test_non_latin_query_matches_its_alias() -> None:
    (match,) = index().screen("Уральский оптико-механический завод Гранит")
    assert match.source == "MEU"
    # The alias normalises to the name itself: one form, reported as the name.
    assert match.name == "Uralskiy Optiko-Mekhanicheskiy Zavod Granit"
    assert match.score == 100.0
    (match,) = index().screen("振华启星微电子有限公司")
    assert match.name == "Zhenhua Qixing Microelectronics Co., Ltd."


def test_acronym_in_parentheses_is_a_form_and_a_qualifier() -> None:
    (match,) = index().screen("AFPA")
    assert match.name == "Aerospace Falcon Propulsion Academy (AFPA)"
    (match,) = index().screen("Tarsun Computing Technologies Limited")
    assert match.score >= 95
    assert not index().screen("Hong Kong Computing Technologies Limited", "HK")


def test_country_match_raises_and_clash_lowers() -> None:
    policy = index().policy
    name = "Meridian Orbital Logistics"
    plain = index().screen(name, include_below_threshold=True)[0]
    match = index().screen(name, "AE", include_below_threshold=True)[0]
    clash = index().screen(name, "US", include_below_threshold=True)[0]
    assert not plain.above_threshold
    assert match.above_threshold
    assert match.score == pytest.approx(plain.score + policy.country_match_bonus, abs=0.11)
    assert clash.score == pytest.approx(plain.score - policy.country_clash_penalty, abs=0.11)
    assert (match.country, match.country_match) == ("AE", "match")
    assert (clash.country, clash.country_match) == ("US", "clash")
    assert "COUNTRY_MATCH" in match.reasons
    assert "COUNTRY_CLASH" in clash.reasons
    # Country names work as well as codes.
    named = index().screen(name, "United Arab Emirates")
    assert named[0].country == "AE"


def test_entry_without_countries_is_not_qualified() -> None:
    (match,) = index().screen("Rodrigo Esteban Palmeiras", "BR")
    assert match.country_match is None
    assert match.score == 100.0


def test_below_threshold_candidates_only_on_request() -> None:
    assert index().screen("Velocity Electronics Limited") == []
    candidates = index().screen("Velocity Electronics Limited", include_below_threshold=True)
    assert candidates
    assert not any(match.above_threshold for match in candidates)
    assert candidates == sorted(candidates, key=lambda match: -match.score)


def test_limit() -> None:
    name = "Orbital Avionics Photonics Bank"
    everything = index().screen(name, include_below_threshold=True, limit=None)
    assert len(everything) == 5
    assert index().screen(name, include_below_threshold=True, limit=2) == everything[:2]
    assert len(index().screen(name, include_below_threshold=True)) == 5
    for bad in (0, -1, True, 2.5):
        with pytest.raises(InputError, match="limit"):
            index().screen(name, limit=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "   ", "\t\n", "---", "()", "\u200b"])
def test_empty_names_are_refused(name: str) -> None:
    with pytest.raises(InputError, match=r"empty|no letters"):
        index().screen(name)


def test_unknown_country_is_refused() -> None:
    with pytest.raises(InputError, match="unknown country") as raised:
        index().screen("Acme", "Atlantis")
    assert raised.value.hint is not None
    assert index().screen("Acme", "") == []


def test_screen_many_validates_everything_first() -> None:
    results = index().screen_many(["AFPA", ("Meridian Orbital Trading FZE", "AE"), "Nobody"])
    assert [len(result) for result in results] == [1, 1, 0]
    with pytest.raises(InputError, match="query 2: the name to screen is empty"):
        index().screen_many(["AFPA", ""])


def test_short_names_match_only_exactly() -> None:
    short = ScreeningIndex.build([entry("ZTE Corporation"), entry("Li Wei", type="Individual")])
    assert [m.name for m in short.screen("ZTE")] == ["ZTE Corporation"]
    assert short.screen("ZTF Corp") == []
    assert short.screen("Lu Wei") == []


def test_individual_tokens_left_out_cost_less_than_an_organisations() -> None:
    people = ScreeningIndex.build([entry("Ivan Sergeyevich PETROV", type="Individual")])
    firms = ScreeningIndex.build([entry("Ivan Sergeyevich Petrov Trading LLC")])
    person = people.screen("Ivan Petrov", include_below_threshold=True)[0]
    firm = firms.screen("Ivan Petrov Trading LLC", include_below_threshold=True)[0]
    assert person.above_threshold
    assert person.score > firm.score


def test_transliteration_and_typo_tolerance() -> None:
    names = ScreeningIndex.build([entry("Aleksandr Yuryevich KHODOROV", type="Individual")])
    for query in ("Alexander Yurievich Hodorov", "Aleksandr Khodorov", "Alexandr Khodorow"):
        assert names.screen(query), query
    assert not names.screen("Aleksandr Khodorenko")


# --- policy --------------------------------------------------------------------------


def test_policy_from_mapping() -> None:
    policy = ScreeningPolicy.from_mapping({"threshold": 90, "country_match_bonus": 2.5})
    assert policy.threshold == 90
    assert policy.country_match_bonus == 2.5
    assert policy.country_clash_penalty == ScreeningPolicy().country_clash_penalty
    assert ScreeningPolicy.from_mapping(policy.to_json()) == policy


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"treshold": 90}, "unknown setting"),
        ({"threshold": 101}, "outside"),
        ({"threshold": "high"}, "must be a number"),
        ({"threshold": True}, "must be a number"),
        ({"weak_token_weight": -0.1}, "outside"),
        ({"short_name_length": 2.5}, "must be an integer"),
    ],
)
def test_policy_refuses_bad_settings(values: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        ScreeningPolicy.from_mapping(values)


def test_threshold_comes_from_the_policy() -> None:
    strict = ScreeningIndex.build(read_list(CSL).entries, ScreeningPolicy(threshold=99))
    assert strict.policy.threshold == 99
    assert index().screen("Meridian Orbitl Trading")
    assert not strict.screen("Meridian Orbitl Trading")


# --- properties ----------------------------------------------------------------------

LIST_NAMES = sorted({name for item in read_list(CSL).entries for name in item.names})


@st.composite
def perturbed_names(draw: st.DrawFn) -> str:
    """A list name with a few random edits, token drops and swaps."""
    tokens = draw(st.sampled_from(LIST_NAMES)).split()
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(tokens) - 1))
        word = tokens[i]
        operation = draw(st.sampled_from(["delete", "insert", "swap", "drop", "upper"]))
        at = draw(st.integers(0, max(0, len(word) - 1)))
        if operation == "delete" and len(word) > 1:
            word = word[:at] + word[at + 1 :]
        elif operation == "insert":
            word = word[:at] + draw(st.sampled_from("aeiknorstu")) + word[at:]
        elif operation == "swap" and len(word) > at + 1:
            word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        elif operation == "drop" and len(tokens) > 1:
            del tokens[i]
            continue
        elif operation == "upper":
            word = word.upper()
        tokens[i] = word
    if draw(st.booleans()):
        tokens.reverse()
    return " ".join(tokens)


@given(perturbed_names(), st.sampled_from([None, "CN", "RU", "US", "HK"]))
def test_pruned_retrieval_loses_no_match(name: str, country: str | None) -> None:
    try:
        pruned = index().screen(name, country, limit=None)
    except InputError:
        return
    everything = index().screen(name, country, limit=None, include_below_threshold=True)
    assert pruned == [match for match in everything if match.above_threshold]
    assert all(0.0 <= match.score <= 100.0 for match in everything)


@given(st.text(max_size=80), st.sampled_from([None, "CN"]))
def test_screening_arbitrary_text_never_crashes(name: str, country: str | None) -> None:
    try:
        matches = index().screen(name, country, include_below_threshold=True)
    except InputError:
        return
    assert all(0.0 <= match.score <= 100.0 for match in matches)

"""Fuzzy name matching against a screening list: an in-memory index and a scorer.

Every name and alternate name of every entry is normalised once
(`names.normalise`) and indexed; screening a party then runs in two stages.

**Forms.** A parenthesised part of a name qualifies it rather than names it
("Tarsun Computing (Hong Kong) Limited", "Falcon Academy (AFPA)"): its tokens
are weak. A parenthesised single token of three characters or more (an
acronym) or an "a.k.a." part is also indexed as a form of its own. Names of
an entry whose `type` is Entity, Vessel or Aircraft, or, when the type is
empty (most BIS and State rows), that contain a legal form or a generic
business word, are ORGANISATIONS; the others are individuals.

**Candidate retrieval.** Each strong token, after `skeleton` folding of
transliteration variants, maps to the names that contain it, and every such
token longer than the short-name length maps to itself and to its
one-character deletions (symmetric-deletion blocking, as in SymSpell). A query
token looks up itself and its own one-character deletions, which finds every
indexed token one deletion apart on each side (any single substitution,
insertion, deletion or adjacent transposition) without comparing against the
whole vocabulary: "sidorof" reaches "sidorov", "aleksandr" (skeleton
"alexandr") reaches "alexander". Two tokens may only pair when they are that
close, so retrieval finds every pair the scorer can use. A second map keys
names by their strong tokens run together ("huawei"), so "Hua Wei" and the
pinyin of 华为 meet. Retrieval uses prefix filtering: with the policy in force
a name can reach the threshold only if it pairs at least `h` of the query's
`n` strong tokens (a bound computed from the weights), so only the postings
of the `n - h + 1` rarest query tokens are read. The pruning is exact: the
matches at or above the threshold are the same as with
`include_below_threshold=True`, which reads every query token's postings.

**Scoring** (0-100). Two rapidfuzz scorers, because each covers the other's
blind spot:

* `JW_BEST_PAIRS`: token-level Jaro-Winkler (`rapidfuzz.distance.JaroWinkler`)
  with best pairs, as Watchman does. Jaro-Winkler is the standard measure for
  short name tokens: it tolerates typos and transliteration variants and
  rewards a shared prefix. Each query strong token is paired with at most one
  entry strong token, greedily by descending similarity. A pair's similarity
  is the larger of Jaro-Winkler and the normalised edit similarity (an edit
  near the start of a long token is undervalued by Jaro-Winkler alone), less
  0.1 when the first letters differ (not for c/k, i/j, or a letter put in
  front: "elena"/"yelena"); it counts only if at least `jaro_winkler_cutoff`
  and the optimal-string-alignment distance (`rapidfuzz.distance.OSA`, a swap
  of neighbours is one edit) is within 1 edit up to 5 characters, 2 beyond,
  which stops Jaro-Winkler's leniency on tokens sharing a prefix
  ("petrov"/"petrenko"). Tokens of `short_name_length` characters or fewer
  match only exactly. The pairs combine as a weighted Dice coefficient:
  matched similarity counts on both sides; an unmatched query token costs
  `unmatched_query_weight`; an unmatched entry token costs
  `unmatched_entry_weight` for organisations and the smaller
  `unmatched_entry_weight_individual` for individuals (a patronymic or middle
  name is often left out); weak tokens weigh `weak_token_weight` and match
  only exactly; a strong token of one side that is a qualifier of the other
  counts as a matched weak token. Token order is irrelevant.
* `NAME_TOKEN_SET`: `rapidfuzz.fuzz.token_set_ratio` over the strong tokens. It
  compares the shared tokens plus each side's remainder at character level, so
  it is robust to reordering, to dropped tokens and to errors that straddle
  token boundaries. It is generous with subsets ("Ivan" is a subset of "Ivan
  Petrov"), so it gets the small weight `token_set_weight` in the blend
  `(1 - w) * JW_BEST_PAIRS + w * NAME_TOKEN_SET`.

`fuzz.WRatio` is not used: its partial-ratio component scores a short name
contained in a long one ("Sino" in "Sinokor Velocity") as a near-perfect
match, which floods a screening with false positives; `token_set_ratio` plus
explicit Dice costs say how much of each side is unexplained instead.

* `NAME_COMPACT`: when both sides' strong tokens run together are equal but
  split differently ("Hua Wei"/"Huawei", pinyin syllables), the name scores as
  if every strong token matched.
* `SHORT_NAME_EXACT`: when either side's strong part is `short_name_length`
  characters or fewer ("ZTE", "Li"), there is no fuzzy tolerance at all: the
  strong tokens must be equal.

The country qualifier is applied per entry: a party's country equal to one of
the entry's countries (from its addresses, nationalities and citizenships)
adds `country_match_bonus` (`COUNTRY_MATCH`); a party's country when the entry
has countries and none is equal subtracts `country_clash_penalty`
(`COUNTRY_CLASH`). An entry scores as its best name or alias; the score is
clipped to 0-100 and rounded to one decimal.

The scorer never says a party is clear: below the threshold only means that no
entry scored at least `threshold` under this policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, Indel, JaroWinkler

from provenance.errors import InputError
from provenance.screening.countries import require_country
from provenance.screening.lists import ListEntry
from provenance.screening.names import normalise, skeleton

__all__ = ["CountryMatch", "Match", "ScreeningIndex", "ScreeningPolicy"]

_NEIGHBOUR_CACHE_LIMIT = 200_000
_FIRST_LETTER_PENALTY = 0.1
_INTERCHANGEABLE_INITIALS = frozenset({frozenset("ck"), frozenset("ij")})


CountryMatch = Literal["match", "clash"]


@dataclass(frozen=True, slots=True)
class ScreeningPolicy:
    """Threshold and weights of the scorer; the rule pack supplies them.

    * `threshold`: a match is reported (and blocks) at or above this score.
    * `country_match_bonus`: added when the party's country is one of the
      entry's countries (from its addresses, nationalities, citizenships).
    * `country_clash_penalty`: subtracted when the entry has countries and the
      party's is none of them.
    * `weak_token_weight`: weight of a legal-form or generic token (Co, Ltd,
      GmbH, Technologies...) relative to a distinctive one (1.0).
    * `token_set_weight`: share of `token_set_ratio` in the name score, the
      rest being the Jaro-Winkler best-pairs score.
    * `unmatched_query_weight`: cost of a query token with no partner in the
      listed name.
    * `unmatched_entry_weight`: cost of a token of a listed organisation's
      name that the query leaves out; `unmatched_entry_weight_individual` the
      same for an individual (a middle name or patronymic is often left out,
      so it costs less).
    * `jaro_winkler_cutoff`: two tokens below this similarity do not pair.
    * `short_name_length`: names (and tokens) this short match only exactly.
    """

    threshold: float = 85.0
    country_match_bonus: float = 5.0
    country_clash_penalty: float = 5.0
    weak_token_weight: float = 0.05
    token_set_weight: float = 0.2
    unmatched_query_weight: float = 1.0
    unmatched_entry_weight: float = 1.0
    unmatched_entry_weight_individual: float = 0.5
    jaro_winkler_cutoff: float = 0.85
    short_name_length: int = 3

    def __post_init__(self) -> None:
        checks = (
            ("threshold", self.threshold, 0.0, 100.0),
            ("country_match_bonus", self.country_match_bonus, 0.0, 100.0),
            ("country_clash_penalty", self.country_clash_penalty, 0.0, 100.0),
            ("weak_token_weight", self.weak_token_weight, 0.0, 1.0),
            ("token_set_weight", self.token_set_weight, 0.0, 1.0),
            ("unmatched_query_weight", self.unmatched_query_weight, 0.0, 10.0),
            ("unmatched_entry_weight", self.unmatched_entry_weight, 0.0, 10.0),
            (
                "unmatched_entry_weight_individual",
                self.unmatched_entry_weight_individual,
                0.0,
                10.0,
            ),
            ("jaro_winkler_cutoff", self.jaro_winkler_cutoff, 0.0, 1.0),
            ("short_name_length", self.short_name_length, 0, 20),
        )
        for field, value, low, high in checks:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"screening policy: {field} must be a number, got {value!r}")
            if field == "short_name_length" and not isinstance(value, int):
                raise InputError(f"screening policy: {field} must be an integer, got {value!r}")
            if not low <= value <= high:
                raise InputError(f"screening policy: {field}={value} is outside [{low}, {high}]")

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> ScreeningPolicy:
        """A policy from a rule pack's mapping; absent keys keep their defaults.

        Raises InputError for an unknown key or an out-of-range value.
        """
        known = {field.name for field in fields(cls)}
        unknown = sorted(str(key) for key in values if key not in known)
        if unknown:
            raise InputError(
                f"screening policy: unknown setting(s): {', '.join(unknown)}",
                hint="known settings: " + ", ".join(sorted(known)),
            )
        return cls(**values)  # type: ignore[arg-type]  # checked in __post_init__

    def to_json(self) -> dict[str, float | int]:
        """The policy as a JSON-ready object (what a determination records)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


@dataclass(frozen=True, slots=True)
class Match:
    """One list entry that resembles the screened name, and why.

    `source` is the list's short code (EL, UVL, MEU, DPL, SDN, ...) and
    `list_name` its full name as the CSL writes it. `matched_name` is the
    entry's name or the alternate name that scored best. `country` is the
    screened party's country (ISO-2) when one was given, and `country_match`
    says whether it is one of the entry's `countries` ("match"), is not
    ("clash"), or could not be compared (None). `reasons` lists the scorer
    components (JW_BEST_PAIRS=.., NAME_TOKEN_SET=.., NAME_COMPACT=..,
    SHORT_NAME_EXACT, MATCHED_ALIAS, COUNTRY_MATCH, COUNTRY_CLASH).
    """

    score: float
    source: str
    list_name: str
    entity_number: str | None
    record_id: str
    name: str
    matched_name: str
    addresses: tuple[str, ...]
    license_requirement: str | None
    license_policy: str | None
    country: str | None
    countries: tuple[str, ...]
    country_match: CountryMatch | None
    above_threshold: bool
    reasons: tuple[str, ...]
    entry: ListEntry

    def to_json(self) -> dict[str, Any]:
        """The match as `provenance screen --json` prints it."""
        return {
            "score": self.score,
            "list": self.source,
            "list_name": self.list_name,
            "entity_number": self.entity_number,
            "record_id": self.record_id,
            "name": self.name,
            "matched_name": self.matched_name,
            "addresses": list(self.addresses),
            "license_requirement": self.license_requirement,
            "license_policy": self.license_policy,
            "country": self.country,
            "countries": list(self.countries),
            "country_match": self.country_match,
            "above_threshold": self.above_threshold,
            "reasons": list(self.reasons),
        }


@dataclass(slots=True)
class _Neighbours:
    """Indexed tokens near one query token, and a memo of its similarities."""

    hits: tuple[str, ...]
    volume: int
    memo: dict[str, float]


@dataclass(frozen=True, slots=True)
class _Form:
    """One indexable form of a name: strong keys, weak keys, organisation flag.

    Keys are `skeleton`s. `weak` holds the legal forms and generic words and
    the tokens of parenthesised qualifiers ("(Hong Kong)", "(AFPA)").
    """

    tokens: tuple[str, ...]
    weak: frozenset[str]
    organisation: bool


@dataclass(slots=True)
class _Query:
    tokens: tuple[str, ...]
    weak: frozenset[str]
    text: str
    compact: str
    short: bool
    country: str | None


_INDIVIDUAL_TYPES = {"individual": True, "entity": False, "vessel": False, "aircraft": False}


class ScreeningIndex:
    """An in-memory index of list names and aliases; `screen` scores a party.

    Build it once per list snapshot (`ScreeningIndex.build`) and screen any
    number of parties against it; it is not modified by screening except for
    a bounded cache of per-token neighbourhoods, so one index may serve many
    queries in one thread.
    """

    def __init__(self, entries: Sequence[ListEntry], policy: ScreeningPolicy) -> None:
        """Use `ScreeningIndex.build`."""
        self._entries = tuple(entries)
        self._policy = policy
        self._countries: list[frozenset[str]] = [frozenset(e.countries) for e in self._entries]
        self._organisation: list[bool] = []
        self._rec_entry: list[int] = []
        self._rec_raw: list[str] = []
        self._rec_alias: list[bool] = []
        self._rec_tokens: list[tuple[str, ...]] = []
        self._rec_weak: list[frozenset[str]] = []
        self._rec_text: list[str] = []
        self._rec_compact: list[str] = []
        self._postings: dict[str, list[int]] = {}
        self._deletions: dict[str, list[str]] = {}
        self._compacts: dict[str, list[int]] = {}
        self._weak_keys: set[str] = set()
        self._neighbours: dict[str, _Neighbours] = {}
        for index, entry in enumerate(self._entries):
            self._add_entry(index, entry)

    # --- building -----------------------------------------------------------------

    @classmethod
    def build(
        cls, entries: Iterable[ListEntry], policy: ScreeningPolicy | None = None
    ) -> ScreeningIndex:
        """Index every name and alternate name of `entries`."""
        return cls(tuple(entries), policy if policy is not None else ScreeningPolicy())

    @property
    def policy(self) -> ScreeningPolicy:
        """The policy the index scores with."""
        return self._policy

    @property
    def entries(self) -> tuple[ListEntry, ...]:
        """The indexed entries, in list order."""
        return self._entries

    @property
    def name_count(self) -> int:
        """How many distinct name forms (names, aliases, acronyms) are indexed."""
        return len(self._rec_entry)

    def __len__(self) -> int:
        return len(self._entries)

    def _add_entry(self, index: int, entry: ListEntry) -> None:
        individual = _INDIVIDUAL_TYPES.get((entry.type or "").strip().lower())
        seen: set[tuple[tuple[str, ...], frozenset[str]]] = set()
        organisation = False
        for position, raw in enumerate(entry.names):
            for form in _forms(raw, individual, acronyms=True):
                organisation = organisation or form.organisation
                if (form.tokens, form.weak) in seen:
                    continue
                seen.add((form.tokens, form.weak))
                self._add_name(index, raw, position > 0, form)
        self._organisation.append(organisation if individual is None else not individual)

    def _add_name(self, index: int, raw: str, alias: bool, form: _Form) -> None:
        record = len(self._rec_entry)
        tokens = form.tokens
        self._rec_entry.append(index)
        self._rec_raw.append(raw)
        self._rec_alias.append(alias)
        self._rec_tokens.append(tokens)
        self._rec_weak.append(form.weak)
        self._weak_keys.update(form.weak)
        self._rec_text.append(" ".join(tokens))
        compact = "".join(tokens)
        self._rec_compact.append(compact)
        self._compacts.setdefault(compact, []).append(record)
        short = self._policy.short_name_length
        for token in tokens:
            postings = self._postings.get(token)
            if postings is None:
                self._postings[token] = [record]
                if len(token) > short:
                    self._deletions.setdefault(token, []).append(token)
                    for variant in _deletion_variants(token):
                        self._deletions.setdefault(variant, []).append(token)
            elif postings[-1] != record:
                postings.append(record)

    # --- screening ----------------------------------------------------------------

    def screen(
        self,
        name: str,
        country: str | None = None,
        *,
        limit: int | None = 10,
        include_below_threshold: bool = False,
    ) -> list[Match]:
        """Entries whose name or an alias resembles `name`, best first.

        `country` (ISO-2 code or a country's name) qualifies the score. Only
        matches at or above the policy's threshold are returned unless
        `include_below_threshold`, which returns every candidate the index
        retrieves (those sharing a token, or a near one, with the name).
        `limit=None` returns them all. Ties are in list order. Raises
        InputError for an empty name, an unknown country or a bad limit.
        """
        _check_limit(limit)
        query = self._query(name, country)
        return self._screen(query, limit, include_below_threshold)

    def screen_many(
        self,
        names: Iterable[str | tuple[str, str | None]],
        *,
        limit: int | None = 10,
        include_below_threshold: bool = False,
    ) -> list[list[Match]]:
        """`screen` for each name (or `(name, country)` pair), in order.

        All queries are validated before any is screened, so a bad one raises
        InputError (naming its position) without partial results.
        """
        _check_limit(limit)
        queries: list[_Query] = []
        for position, item in enumerate(names):
            party, country = (item, None) if isinstance(item, str) else item
            try:
                queries.append(self._query(party, country))
            except InputError as exc:
                raise InputError(f"query {position + 1}: {exc.message}", hint=exc.hint) from exc
        return [self._screen(query, limit, include_below_threshold) for query in queries]

    def _query(self, name: object, country: str | None) -> _Query:
        if not isinstance(name, str) or not name.strip():
            raise InputError(
                "the name to screen is empty", hint="give the party's name, e.g. 'Acme Ltd'"
            )
        forms = _forms(name, None, acronyms=False)
        if not forms:
            raise InputError(f"the name to screen has no letters or digits: {name!r}")
        form = forms[0]
        code = None
        if country is not None and country.strip():
            code = require_country(country)
        compact = "".join(form.tokens)
        return _Query(
            tokens=form.tokens,
            weak=form.weak,
            text=" ".join(form.tokens),
            compact=compact,
            short=len(compact) <= self._policy.short_name_length,
            country=code,
        )

    def _screen(self, query: _Query, limit: int | None, include_below: bool) -> list[Match]:
        policy = self._policy
        neighbours = [self._neighbours_of(token) for token in query.tokens]
        candidates = self._candidates(query, neighbours, include_below)
        if not candidates:
            return []
        best: dict[int, tuple[float, int, tuple[str, ...]]] = {}
        for record in candidates:
            scored = self._score(query, neighbours, record)
            if scored is None:
                continue
            entry = self._rec_entry[record]
            current = best.get(entry)
            if current is None or scored[0] > current[0]:
                best[entry] = (scored[0], record, scored[1])
        ranked: list[tuple[float, int, int, tuple[str, ...], CountryMatch | None]] = []
        for entry_index, (name_score, record, reasons) in best.items():
            score = name_score
            status: CountryMatch | None = None
            countries = self._countries[entry_index]
            if query.country is not None and countries:
                if query.country in countries:
                    score += policy.country_match_bonus
                    status = "match"
                else:
                    score -= policy.country_clash_penalty
                    status = "clash"
            score = round(min(100.0, max(0.0, score)), 1)
            if score < policy.threshold and not include_below:
                continue
            ranked.append((-score, entry_index, record, reasons, status))
        ranked.sort(key=lambda item: (item[0], item[1]))
        if limit is not None:
            del ranked[limit:]
        return [self._match(query, *item) for item in ranked]

    def _match(
        self,
        query: _Query,
        negative_score: float,
        entry_index: int,
        record: int,
        reasons: tuple[str, ...],
        status: CountryMatch | None,
    ) -> Match:
        entry = self._entries[entry_index]
        extra: list[str] = []
        if self._rec_alias[record]:
            extra.append("MATCHED_ALIAS")
        if status == "match":
            extra.append("COUNTRY_MATCH")
        elif status == "clash":
            extra.append("COUNTRY_CLASH")
        score = -negative_score
        return Match(
            score=score,
            source=entry.source,
            list_name=entry.source_name,
            entity_number=entry.entity_number,
            record_id=entry.record_id,
            name=entry.name,
            matched_name=self._rec_raw[record],
            addresses=entry.addresses,
            license_requirement=entry.license_requirement,
            license_policy=entry.license_policy,
            country=query.country,
            countries=entry.countries,
            country_match=status,
            above_threshold=score >= self._policy.threshold,
            reasons=(*reasons, *extra),
            entry=entry,
        )

    def _candidates(
        self, query: _Query, neighbours: list[_Neighbours], include_below: bool
    ) -> set[int]:
        n = len(query.tokens)
        candidates: set[int] = set()
        if include_below:
            need = 1
        else:
            bonus = self._policy.country_match_bonus if query.country is not None else 0.0
            demotable = sum(1 for token in query.tokens if token in self._weak_keys)
            need = self._min_hits(n, len(query.weak), demotable, bonus)
        if need <= n:
            order = sorted(range(n), key=lambda i: neighbours[i].volume)
            postings = self._postings
            for i in order[: n - need + 1]:
                for token in neighbours[i].hits:
                    candidates.update(postings[token])
        same_compact = self._compacts.get(query.compact)
        if same_compact is not None:
            candidates.update(same_compact)
        return candidates

    def _min_hits(self, n: int, weak: int, demotable: int, bonus: float) -> int:
        """Fewest matched query tokens with which a name can reach the threshold.

        An upper bound of the blend for `hits` matched strong tokens: every
        weak token matched, every unmatched strong token that is some entry's
        weak token (`demotable`) counted as a matched weak one, the rest
        costing `unmatched_query_weight`, nothing unmatched on the entry side,
        `NAME_TOKEN_SET` = 100.
        """
        s = self._policy
        ww = 2.0 * s.weak_token_weight
        for hits in range(1, n + 1):
            demoted = min(demotable, n - hits)
            matched = 2.0 * hits + ww * (weak + demoted)
            missing = s.unmatched_query_weight * (n - hits - demoted)
            best_pairs = matched / (matched + missing)
            ceiling = 100.0 * ((1.0 - s.token_set_weight) * best_pairs + s.token_set_weight)
            if ceiling + bonus >= s.threshold - 0.05:
                return hits
        return n + 1

    def _score(
        self, query: _Query, neighbours: list[_Neighbours], record: int
    ) -> tuple[float, tuple[str, ...]] | None:
        s = self._policy
        q_tokens = query.tokens
        e_tokens = self._rec_tokens[record]
        e_weak = self._rec_weak[record]
        n, m = len(q_tokens), len(e_tokens)
        compact = self._rec_compact[record]
        short = query.short or len(compact) <= s.short_name_length
        q_unmatched: Iterable[str]
        e_unmatched: Iterable[str]
        if short:
            if set(q_tokens) != set(e_tokens):
                return None
            total, q_unmatched, e_unmatched = float(n), (), ()
        else:
            pairs: list[tuple[float, int, int]] = []
            for i in range(n):
                memo = neighbours[i].memo
                q_token = q_tokens[i]
                for j in range(m):
                    e_token = e_tokens[j]
                    sim = memo.get(e_token)
                    if sim is None:
                        sim = memo[e_token] = self._similarity(q_token, e_token)
                    if sim > 0.0:
                        pairs.append((sim, i, j))
            total, used_q, used_e = _best_pairs(pairs)
            q_unmatched = [q_tokens[i] for i in range(n) if i not in used_q]
            e_unmatched = [e_tokens[j] for j in range(m) if j not in used_e]
        # A strong token of one side that is a weak one (a qualifier such as
        # "(Hong Kong)") of the other counts as a matched weak token.
        demoted_q = sum(1 for token in q_unmatched if token in e_weak)
        demoted_e = sum(1 for token in e_unmatched if token in query.weak)
        missing_q = len(q_unmatched) - demoted_q
        missing_e = len(e_unmatched) - demoted_e
        common = len(query.weak & e_weak) if query.weak and e_weak else 0
        ww = s.weak_token_weight
        entry_weight = (
            s.unmatched_entry_weight
            if self._organisation[self._rec_entry[record]]
            else s.unmatched_entry_weight_individual
        )
        matched = 2.0 * total + 2.0 * ww * (common + demoted_q + demoted_e)
        hits = n - len(q_unmatched)
        denominator = (
            2.0 * hits
            + 2.0 * ww * (common + demoted_q + demoted_e)
            + s.unmatched_query_weight * (missing_q + ww * (len(query.weak) - common))
            + entry_weight * (missing_e + ww * (len(e_weak) - common))
        )
        best_pairs = matched / denominator if denominator > 0.0 else 0.0
        if short:
            token_set = 100.0
        else:
            token_set = fuzz.token_set_ratio(query.text, self._rec_text[record], processor=None)
        blend = 100.0 * (1.0 - s.token_set_weight) * best_pairs + s.token_set_weight * token_set
        reasons = [
            f"JW_BEST_PAIRS={round(100.0 * best_pairs)}",
            f"NAME_TOKEN_SET={round(token_set)}",
        ]
        score = blend
        if short:
            reasons.append("SHORT_NAME_EXACT")
        elif query.compact == compact and q_unmatched:
            # The same letters split differently ("Hua Wei"/"Huawei", pinyin
            # syllables run together): score as if every strong token matched.
            whole = 2.0 + 2.0 * ww * common
            whole /= (
                whole
                + s.unmatched_query_weight * ww * (len(query.weak) - common)
                + entry_weight * ww * (len(e_weak) - common)
            )
            joined = 100.0 * whole
            if joined > score:
                score = joined
                reasons.append(f"NAME_COMPACT={round(joined)}")
        return score, tuple(reasons)

    def _neighbours_of(self, token: str) -> _Neighbours:
        found = self._neighbours.get(token)
        if found is not None:
            return found
        short = self._policy.short_name_length
        memo: dict[str, float] = {}
        if len(token) <= short:
            hits: tuple[str, ...] = (token,) if token in self._postings else ()
            memo.update(dict.fromkeys(hits, 1.0))
        else:
            near: set[str] = set(self._deletions.get(token, ()))
            for variant in _deletion_variants(token):
                near.update(self._deletions.get(variant, ()))
            for other in near:
                memo[other] = self._similarity(token, other)
            hits = tuple(other for other in sorted(near) if memo[other] > 0.0)
        volume = sum(len(self._postings[hit]) for hit in hits)
        if len(self._neighbours) >= _NEIGHBOUR_CACHE_LIMIT:
            self._neighbours.clear()
        result = _Neighbours(hits=hits, volume=volume, memo=memo)
        self._neighbours[token] = result
        return result

    def _similarity(self, a: str, b: str) -> float:
        """Similarity of two tokens in [0, 1]; 0 when they may not pair."""
        if a == b:
            return 1.0
        la, lb = len(a), len(b)
        s = self._policy
        if la <= s.short_name_length or lb <= s.short_name_length:
            return 0.0
        # Only tokens one deletion apart on each side pair: exactly the tokens
        # that retrieval finds, so that pruning never loses a candidate.
        if abs(la - lb) > 1 or Indel.distance(a, b, score_cutoff=2) > 2:
            return 0.0
        budget = _edit_budget(max(la, lb))
        distance = OSA.distance(a, b, score_cutoff=budget)
        if distance > budget:
            return 0.0
        # Jaro-Winkler undervalues an edit near the start of a long token
        # ("srerofir"/"serofir" is 0.83); the normalised edit similarity does not.
        similarity = max(JaroWinkler.similarity(a, b), 1.0 - distance / max(la, lb))
        if (
            a[0] != b[0]
            and a[1:] != b
            and b[1:] != a
            and frozenset((a[0], b[0])) not in _INTERCHANGEABLE_INITIALS
        ):
            # A different first letter, other than one letter put in front
            # ("elena"/"ielena") or a transliteration pair ("kapital"/"capital",
            # "jelena"/"ielena"), is rarely a typo.
            similarity -= _FIRST_LETTER_PENALTY
        return similarity if similarity >= s.jaro_winkler_cutoff else 0.0


def _check_limit(limit: object) -> None:
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"limit must be a positive integer, got {limit!r}")


def _keys(tokens: Iterable[str]) -> tuple[str, ...]:
    """Distinct skeleton keys of `tokens`, in order."""
    return tuple(dict.fromkeys(skeleton(token) for token in tokens))


_AKA = re.compile(
    r"^\s*(?:a\.?\s?k\.?\s?a\.?|f\.?\s?k\.?\s?a\.?|formerly|also known as)[\s,:.]*", re.I
)


def _forms(raw: str, individual: bool | None, *, acronyms: bool) -> list[_Form]:
    """The indexable forms of a name (the first is the name itself).

    Parenthesised parts qualify the name rather than name it ("Tarsun
    Computing (Hong Kong) Limited", "Falcon Academy (AFPA)"), so their tokens
    are weak. With `acronyms`, a parenthesised part that is one token of three
    characters or more, or that starts with "a.k.a."/"f.k.a.", is also a form
    of its own, so "AFPA" finds its entry.
    """
    outer, inner = _split_parentheses(raw)
    normal = normalise(outer if inner and outer.strip() else raw, individual=individual)
    tokens = _keys(normal.strong)
    weak = {skeleton(token) for token in normal.weak}
    if inner and outer.strip():
        qualifiers = normalise(" ".join(inner), individual=False)
        weak.update(key for key in _keys(qualifiers.tokens) if key not in tokens)
    if not tokens:
        # Nothing outside the parentheses: the whole text is the name.
        normal = normalise(raw, individual=individual)
        tokens = _keys(normal.strong)
        weak = {skeleton(token) for token in normal.weak}
    forms: list[_Form] = []
    if tokens:
        forms.append(_Form(tokens=tokens, weak=frozenset(weak), organisation=normal.organisation))
    if acronyms and outer.strip():
        for part in inner:
            stripped = _AKA.sub("", part)
            if stripped == part and (" " in part.strip() or len(part.strip()) < 3):
                continue
            alias = normalise(stripped, individual=False)
            keys = _keys(alias.strong)
            if keys and keys != tokens:
                forms.append(
                    _Form(
                        tokens=keys,
                        weak=frozenset(skeleton(token) for token in alias.weak),
                        organisation=alias.organisation,
                    )
                )
    return forms


def _split_parentheses(raw: str) -> tuple[str, list[str]]:
    """The text outside parentheses, and each parenthesised part."""
    if "(" not in raw:
        return raw, []
    outer: list[str] = []
    inner: list[str] = []
    current: list[str] = []
    depth = 0
    for char in raw:
        if char == "(":
            if depth == 0:
                current = []
            else:
                current.append(char)
            depth += 1
            outer.append(" ")
        elif char == ")" and depth > 0:
            depth -= 1
            if depth == 0:
                inner.append("".join(current))
            else:
                current.append(char)
        elif depth > 0:
            current.append(char)
        else:
            outer.append(char)
    if depth > 0:
        inner.append("".join(current))
    return "".join(outer), [part for part in inner if part.strip()]


def _deletion_variants(token: str) -> list[str]:
    return [token[:i] + token[i + 1 :] for i in range(len(token))]


def _edit_budget(length: int) -> int:
    if length <= 5:
        return 1
    if length <= 9:
        return 2
    return 3


def _best_pairs(pairs: list[tuple[float, int, int]]) -> tuple[float, set[int], set[int]]:
    """A greedy one-to-one pairing: its total similarity and the paired indices."""
    if not pairs:
        return 0.0, set(), set()
    if len(pairs) == 1:
        sim, i, j = pairs[0]
        return sim, {i}, {j}
    pairs.sort(reverse=True)
    used_q: set[int] = set()
    used_e: set[int] = set()
    total = 0.0
    for sim, i, j in pairs:
        if i in used_q or j in used_e:
            continue
        used_q.add(i)
        used_e.add(j)
        total += sim
    return total, used_q, used_e

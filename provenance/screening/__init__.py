"""Restricted-party screening: the pure, database-free core.

* `lists`: parse the U.S. Consolidated Screening List (CSV or JSON download)
  into a `ScreeningList` of `ListEntry` records, all or nothing, with the
  file's SHA-256 and row counts per source list (`parse_list`, `read_list`).
* `names`: normalise party names (transliteration, legal forms, reordering).
* `matcher`: index the names and aliases of a list once and score parties
  against them (`ScreeningIndex`, `ScreeningPolicy`, `Match`).
* `countries`: country names and codes to ISO 3166-1 alpha-2.
* `snapshots` (the one module that touches the ledger; import it by name):
  import a list as a signed snapshot, re-screen every trade party, raise
  flags for new matches, and load a snapshot's index back for the rules.

Typical use (the CLI and the rules engine)::

    snapshot = read_list("consolidated.csv")            # or parse_list(bytes)
    index = ScreeningIndex.build(snapshot.entries, ScreeningPolicy.from_mapping(pack))
    for match in index.screen("Acme Technologies Ltd", country="CN"):
        match.score, match.source, match.entity_number, match.matched_name

Nothing here prints or exits, and nothing but `snapshots` touches a
database; every refusal is an `InputError`.
"""

from __future__ import annotations

from provenance.screening.countries import country_code, require_country
from provenance.screening.lists import (
    CSV_COLUMNS,
    SOURCE_AGENCIES,
    SOURCE_NAMES,
    ListEntry,
    ListFormat,
    ScreeningList,
    SourceFreshness,
    parse_list,
    read_list,
    source_code,
)
from provenance.screening.matcher import CountryMatch, Match, ScreeningIndex, ScreeningPolicy
from provenance.screening.names import NormalizedName, is_weak, normalise, skeleton

__all__ = [
    "CSV_COLUMNS",
    "SOURCE_AGENCIES",
    "SOURCE_NAMES",
    "CountryMatch",
    "ListEntry",
    "ListFormat",
    "Match",
    "NormalizedName",
    "ScreeningIndex",
    "ScreeningList",
    "ScreeningPolicy",
    "SourceFreshness",
    "country_code",
    "is_weak",
    "normalise",
    "parse_list",
    "read_list",
    "require_country",
    "skeleton",
    "source_code",
]

"""Screening benchmark: party names per second against a synthetic CSL.

    python bench/screening.py [--names 10000] [--entries 20000] [--seed 7]

Builds a synthetic Consolidated Screening List of `--entries` records in the
published CSV form (29 columns; 70% organisations with legal forms, 30%
individuals as "SURNAME, Given"; zero to four alternate names per record, 1.75
on average: acronyms, other trading names, reordered or misspelt names; one to
three addresses; distinctive tokens shared by many records as in the real
list: "Shenzhen", "Aerospace", "Mohammad"...), parses it with
`parse_list`, indexes it with `ScreeningIndex.build` and screens `--names`
party names one by one with `ScreeningIndex.screen` (the path the CLI and the
rules engine use), on one core.

The names screened are drawn from the same generator as the list (so they
share its common tokens, the hard case for blocking): by default 10% are
perturbed list names (a typo, reordered tokens, a dropped legal form, upper
case) and the rest are new names. Half the queries carry a country.

Printed: the time to parse and index the list, names/s for screening, the
ratio against the target of 2,000 names/s, peak memory (the process's
peak resident set size from `getrusage`, and with `--tracemalloc` the Python
heap held by the index, measured in a separate build so that it does not slow
the timed run), how many queries matched at or above the threshold, how many
of the perturbed names found their own entry, and how many new names matched
something. The last line printed is one JSON
object of the figures.
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import json
import platform
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from provenance.screening import (
    CSV_COLUMNS,
    SOURCE_NAMES,
    ScreeningIndex,
    ScreeningPolicy,
    parse_list,
)

TARGET_NAMES_PER_SECOND = 2000.0

# Syllables of the synthetic words: consonant + vowel, some with a coda.
_SYLLABLES = tuple(
    onset + vowel + coda
    for onset in ("b", "ch", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z")
    for vowel in ("a", "e", "i", "o", "u")
    for coda in ("", "", "n", "r")
)
# Distinctive words that recur across many records of the real list.
_COMMON = (  # noqa: SIM905
    "china shenzhen beijing shanghai moscow tehran hong kong research institute "
    "aviation bank aerospace university academy semiconductor shipping petroleum "
    "science national engineering optical machinery energy marine precision "
    "dynamics defense instruments computing microelectronics logistics"
).split()
_LEGAL = (
    "Co., Ltd.",
    "Limited",
    "LLC",
    "GmbH",
    "JSC",
    "Technology Co., Ltd.",
    "Trading FZE",
    "Industries Inc.",
    "Electronics Limited",
    "",
)
_COUNTRIES = ("CN", "RU", "IR", "HK", "AE", "KP", "SY", "TR", "BY", "PK", "US", "DE")
_PERTURB_COUNTRIES = ("CN", "RU", "IR", "HK", "AE", "SG", "US")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Generator:
    """Synthetic names with the shape and token frequencies of the CSL."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.given = [self.word(2, 3).capitalize() for _ in range(300)]
        self.given += ["Mohammad", "Ali", "Hassan", "Sergey", "Wei", "Li", "Ahmad", "Ivan"]
        self.surnames = [self.word(2, 4).upper() for _ in range(3000)]

    def word(self, low: int = 2, high: int = 3) -> str:
        return "".join(self.rng.choice(_SYLLABLES) for _ in range(self.rng.randint(low, high)))

    def organisation(self) -> str:
        rng = self.rng
        words = [self.word().capitalize() for _ in range(rng.choice((1, 1, 2, 2, 3)))]
        if rng.random() < 0.45:
            common = rng.choice(_COMMON).capitalize()
            words.insert(rng.randint(0, len(words)), common)
        legal = rng.choice(_LEGAL)
        return " ".join([*words, legal]).strip()

    def person(self) -> str:
        rng = self.rng
        given = rng.choice(self.given)
        if rng.random() < 0.3:
            given += " " + rng.choice(self.given)
        return f"{rng.choice(self.surnames)}, {given}"

    def name(self) -> tuple[str, bool]:
        if self.rng.random() < 0.3:
            return self.person(), True
        return self.organisation(), False

    def alias(self, name: str, individual: bool) -> str:
        rng = self.rng
        kind = rng.random()
        if individual:
            surname, _, given = name.partition(", ")
            if kind < 0.5:
                return f"{given} {surname}"
            return f"{surname}, {self.typo(given)}"
        if kind < 0.3:
            letters = "".join(word[0] for word in name.split() if word[0].isalpha())
            return letters.upper() if len(letters) >= 3 else self.organisation()
        if kind < 0.6:
            return self.organisation()
        if kind < 0.8:
            return self.typo(name)
        return f"{name.split()[0]} {rng.choice(_LEGAL)}".strip()

    def typo(self, text: str) -> str:
        rng = self.rng
        words = text.split()
        candidates = [i for i, word in enumerate(words) if len(word) >= 6]
        if not candidates:
            return text
        i = rng.choice(candidates)
        word = words[i]
        at = rng.randrange(1, len(word) - 1)
        operation = rng.random()
        if operation < 0.33:
            word = word[:at] + word[at + 1 :]
        elif operation < 0.66:
            word = word[:at] + rng.choice("aeiourn") + word[at + 1 :]
        else:
            word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        words[i] = word
        return " ".join(words)

    def perturb(self, name: str, individual: bool) -> str:
        rng = self.rng
        if individual:
            surname, _, given = name.partition(", ")
            text = f"{given} {surname}" if rng.random() < 0.5 else name
        else:
            text = name
            for legal in sorted(_LEGAL, key=len, reverse=True):
                if legal and text.endswith(legal) and rng.random() < 0.5:
                    text = text[: -len(legal)].strip()
                    break
        choice = rng.random()
        if choice < 0.5:
            text = self.typo(text)
        elif choice < 0.7:
            text = text.upper()
        elif choice < 0.85 and " " in text:
            head, _, tail = text.partition(" ")
            text = f"{tail} {head}"
        return text


Record = tuple[str, bool, str, str]


def synthetic_csv(entries: int, generator: Generator) -> tuple[bytes, list[Record]]:
    """The list as CSV bytes, and (name, individual, record id, country) of each record."""
    rng = generator.rng
    sources = list(SOURCE_NAMES)
    weights = [30, 5, 3, 4, 3, 2, 40, 3, 2, 1, 3, 2, 2]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_COLUMNS)
    records: list[Record] = []
    for i in range(entries):
        name, individual = generator.name()
        alias_count = rng.choice((0, 1, 1, 1, 2, 2, 3, 4))
        aliases = [generator.alias(name, individual) for _ in range(alias_count)]
        country = rng.choice(_COUNTRIES)
        addresses = [
            f"{rng.randint(1, 999)} {generator.word().capitalize()} Road, "
            f"{generator.word().capitalize()}, {country}"
            for _ in range(rng.choice((1, 1, 2, 3)))
        ]
        record_id = f"{i:08x}"
        row = dict.fromkeys(CSV_COLUMNS, "")
        row.update(
            {
                "_id": record_id,
                "source": rng.choices(sources, weights)[0],
                "entity_number": str(10000 + i),
                "type": "Individual" if individual else "Entity",
                "name": name,
                "addresses": "; ".join(addresses),
                "alt_names": "; ".join(aliases),
                "license_requirement": "For all items subject to the EAR.",
                "license_policy": "Presumption of denial.",
            }
        )
        writer.writerow([row[column] for column in CSV_COLUMNS])
        records.append((name, individual, record_id, country))
    return out.getvalue().encode(), records


def queries(
    count: int, share_perturbed: float, generator: Generator, records: list[Record]
) -> list[tuple[str, str | None, str | None]]:
    """(name, country, expected record id or None) for each query.

    Half the queries carry a country; a perturbed list name carries its
    record's country seven times in ten, another country otherwise.
    """
    rng = generator.rng
    out: list[tuple[str, str | None, str | None]] = []
    for _ in range(count):
        country = rng.choice(_PERTURB_COUNTRIES) if rng.random() < 0.5 else None
        if rng.random() < share_perturbed:
            name, individual, record_id, own_country = rng.choice(records)
            if country is not None and rng.random() < 0.7:
                country = own_country
            out.append((generator.perturb(name, individual), country, record_id))
        else:
            out.append((generator.name()[0], country, None))
    return out


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, default=10_000, help="party names to screen")
    parser.add_argument("--entries", type=int, default=20_000, help="records in the list")
    parser.add_argument("--perturbed", type=float, default=0.1, help="share of list names")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also measure the index's Python heap"
    )
    args = parser.parse_args(argv)
    if args.names < 1 or args.entries < 1 or not 0.0 <= args.perturbed <= 1.0:
        parser.error("--names and --entries must be positive, --perturbed within [0, 1]")

    generator = Generator(random.Random(args.seed))
    log(f"generating a list of {args.entries} records and {args.names} names ...")
    data, records = synthetic_csv(args.entries, generator)
    party_names = queries(args.names, args.perturbed, generator, records)

    started = time.perf_counter()
    snapshot = parse_list(data, format="csv", source="synthetic.csv")
    parse_seconds = time.perf_counter() - started

    policy = ScreeningPolicy()
    started = time.perf_counter()
    index = ScreeningIndex.build(snapshot.entries, policy)
    index_seconds = time.perf_counter() - started
    rss_after_index = peak_rss_mib()
    indexed_names = index.name_count
    log(
        f"list: {len(data) / 1e6:.1f} MB CSV, {len(snapshot.entries)} records, "
        f"{index.name_count} names and aliases indexed; parse {parse_seconds:.2f} s, "
        f"index {index_seconds:.2f} s"
    )

    gc.collect()
    hits = 0
    found_own = 0
    perturbed = 0
    new_matched = 0
    started = time.perf_counter()
    for name, country, expected in party_names:
        matches = index.screen(name, country)
        if matches:
            hits += 1
        if expected is not None:
            perturbed += 1
            if any(match.record_id == expected for match in matches):
                found_own += 1
        elif matches:
            new_matched += 1
    screen_seconds = time.perf_counter() - started
    rate = args.names / screen_seconds

    heap_mib: float | None = None
    if args.tracemalloc:
        del index
        gc.collect()
        tracemalloc.start()
        again = ScreeningIndex.build(snapshot.entries, policy)
        heap_mib = tracemalloc.get_traced_memory()[0] / (1024 * 1024)
        tracemalloc.stop()
        del again

    ratio = rate / TARGET_NAMES_PER_SECOND
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, one core")
    print(
        f"list: {len(snapshot.entries)} records, {indexed_names} names and aliases; "
        f"parse {parse_seconds:.2f} s, index {index_seconds:.2f} s"
    )
    print(
        f"screened {args.names} names in {screen_seconds:.2f} s: {rate:,.0f} names/s "
        f"= {ratio:.2f} x the target of {TARGET_NAMES_PER_SECOND:,.0f} names/s "
        f"({'met' if ratio >= 1.0 else 'NOT met'})"
    )
    print(
        f"matches at or above {policy.threshold:g}: {hits} of {args.names} queries; "
        f"perturbed list names that found their own record: {found_own} of {perturbed}; "
        f"new names with a match: {new_matched} of {args.names - perturbed}"
    )
    print(
        "(new names come from the same syllables as the list, so some differ from a "
        "listed name by one letter; this is no precision figure: see "
        "tests/screening/test_screening_quality.py)"
    )
    memory = f"peak RSS {peak_rss_mib():.0f} MiB (after indexing {rss_after_index:.0f} MiB)"
    if heap_mib is not None:
        memory += f"; index Python heap {heap_mib:.0f} MiB (tracemalloc)"
    print(memory)
    figures: dict[str, Any] = {
        "names": args.names,
        "entries": len(snapshot.entries),
        "indexed_names": indexed_names,
        "parse_s": round(parse_seconds, 3),
        "index_s": round(index_seconds, 3),
        "screen_s": round(screen_seconds, 3),
        "names_per_s": round(rate, 1),
        "target_names_per_s": TARGET_NAMES_PER_SECOND,
        "ratio": round(ratio, 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "index_heap_mib": None if heap_mib is None else round(heap_mib, 1),
        "queries_matched": hits,
        "perturbed": perturbed,
        "perturbed_found": found_own,
        "new_names_matched": new_matched,
        "threshold": policy.threshold,
    }
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

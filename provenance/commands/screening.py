"""Restricted-party screening: `screening` (the lists) and `screen` (one name)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from provenance import documents
from provenance.commands.appending import load_signers
from provenance.commands.options import (
    Write,
    common,
    counted,
    date_option,
    emit,
    exit_on_findings,
    query,
    writes,
)
from provenance.errors import InputError
from provenance.ledger.log import Ledger

# --- restricted-party screening ------------------------------------------------------------


@click.group("screening")
def screening_group() -> None:
    """Restricted-party lists (the US Consolidated Screening List): import, list, show."""


@screening_group.command("import")
@click.argument("file")
@click.option(
    "--format",
    "list_format",
    type=click.Choice(["csv", "json"]),
    default=None,
    help="The download's form (default: sniffed from the file).",
)
@date_option("--date", "list_date", help="When the list was downloaded (default: today).")
@click.option(
    "--policy",
    "policy_file",
    default=None,
    metavar="YAML",
    help="Screening policy (default: the packaged rules/screening.yaml).",
)
@writes
def screening_import(
    file: str,
    list_format: str | None,
    list_date: dt.datetime | None,
    policy_file: str | None,
    write: Write,
) -> None:
    """Import a CSL download as a new snapshot and re-screen every trade party against it.

    FILE is the CSV or JSON form as published (header `_id,source,entity_number,
    type,programs,name,...`). The file is kept by its SHA-256; the operator's key
    (--key) signs an entry with the digest, the row counts per list and every
    party that matches an entry at or above the threshold. Parties that newly
    match raise red flags. A malformed file is refused with its line number and
    nothing is imported; a list imported before is a no-op. Earlier snapshots
    are kept.
    """
    from provenance.screening import snapshots

    write.local_only("screening import (the list file is kept beside the ledger)")
    data = documents.read_bytes(file, limit=snapshots.MAX_LIST_BYTES)
    screening = snapshots.load_screening(policy_file)
    signers = load_signers(write.key_paths)
    with write.open() as ledger:
        done = snapshots.import_list(
            ledger,
            data,
            name=documents.display_name(file),
            signers=signers,
            format=list_format,
            date=list_date.date() if list_date else None,
            screening=screening,
        )
        receipt = ledger.receipt(done.seq) if done.appended and not write.dry_run else None
    if receipt and write.receipt_file:
        Path(write.receipt_file).write_text(receipt.text(), encoding="utf-8")
    data_out = done.to_json()
    if write.dry_run:
        data_out["dry_run"] = True

    def human() -> None:
        if write.dry_run:
            click.echo("dry run: nothing written; the import would give:")
        if done.duplicate:
            click.echo(
                f"this list ({done.digest[:16]}) is already snapshot entry {done.seq}; "
                "nothing imported"
            )
            return
        counts = ", ".join(f"{k} {v}" for k, v in done.counts.items())
        click.echo(
            f"snapshot {done.digest[:16]}: {counted(done.total, 'entry', 'entries')} ({counts})"
        )
        click.echo(f"entry {done.seq}: screening-list, signed by the operator")
        new = [h for h in done.hits if h.new]
        click.echo(
            f"re-screened {counted(done.parties_screened, 'party', 'parties')}: "
            f"{counted(len(done.hits), 'match', 'matches')}, "
            f"{len(new)} new (flagged)"
        )
        for h in done.hits:
            mark = "NEW " if h.new else "    "
            click.echo(
                f"  {mark}{h.party}: {h.source} {h.entity_number or ''} {h.matched_name!r} "
                f"score {h.score} ({h.severity})"
            )

    emit(write.as_json, data_out, human)


@screening_group.command("list")
@common
def screening_list(db: str | None, as_json: bool) -> None:
    """Every snapshot imported, newest first."""
    from provenance.screening import snapshots

    rows = query(db, snapshots.snapshots)

    def human() -> None:
        for r in rows:
            counts = ", ".join(f"{k} {v}" for k, v in r["counts"].items())
            click.echo(
                f"entry {r['seq']:<6} {r['date']}  {r['digest'][:16]}  {r['total']:>6} entries "
                f"({counts}); {r['matches']} matches, {r['new_flags']} new"
            )
        if not rows:
            click.echo("no screening list imported yet (provenance screening import FILE)")

    emit(as_json, rows, human)


@screening_group.command("show")
@click.argument("digest", required=False)
@common
def screening_show(digest: str | None, db: str | None, as_json: bool) -> None:
    """A snapshot (the latest, or DIGEST or its first characters) and its matches."""
    from provenance.screening import snapshots

    data = query(db, lambda ledger: snapshots.snapshot(ledger, digest))
    emit(as_json, data, lambda: click.echo(documents.dumps(data)))


@screening_group.command("party")
@click.argument("party_id", metavar="ID")
@date_option("--date", "on", help="Screen as the rules would on this date (default: today).")
@click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder to use.")
@common
def screening_party(
    party_id: str, on: dt.datetime | None, rules_dir: str | None, db: str | None, as_json: bool
) -> None:
    """Screen registered party ID and its declared owners; exit 1 when it is restricted.

    Shows the party's own matches against the latest list and, under the Affiliates
    rule (parties owned 50% or more, directly or indirectly, alone or in aggregate, by
    Entity List or Military End-User parties), the lists it inherits and the ownership
    chain that makes it restricted, and whether the rule binds on the date (it was
    suspended from 2025-11-10 to 2026-11-09). Exits 1 when the party matched itself, or
    is an affiliate while the rule binds.
    """
    from provenance.compliance.checks import screen_party

    with Ledger.open(db) as ledger:
        found = screen_party(ledger, party_id, on=on.date() if on else None, rules=rules_dir)

    def human() -> None:
        state = "RESTRICTED" if found.restricted else "not restricted"
        click.echo(f"{found.party} on {found.on} ({found.pack}): {state}")
        for m in found.matches:
            click.echo(
                f"  MATCH {m.score:6.2f}  {m.source:<4} {m.entity_number or '-':<12} {m.name}"
            )
        if found.affiliate_of:
            click.echo(
                f"  owned 50% or more by parties on {', '.join(found.affiliate_of)}; "
                f"the Affiliates rule is {found.affiliates_rule} on {found.on}"
            )
            for link in found.ownership_chain:
                click.echo(f"    {link}")
        elif not found.matches:
            click.echo("  no match, and no listed owner of 50% or more")

    emit(as_json, found.to_json(), human)
    exit_on_findings(found.restricted)


@click.command("screen")
@click.argument("name")
@click.option("--country", default=None, metavar="CC", help="The party's country (ISO-2 or name).")
@click.option("--all", "show_all", is_flag=True, help="Every candidate, also below the threshold.")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--list",
    "list_file",
    default=None,
    metavar="FILE",
    help="Screen against this CSL file instead of the ledger's latest snapshot.",
)
@common
def screen(
    name: str,
    country: str | None,
    show_all: bool,
    limit: int,
    list_file: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Screen NAME against the restricted-party lists; exit 1 when a match is found.

    Ranked matches at or above the threshold (every candidate with --all), each with
    its score (0-100), list, entity number, the name or alias it matched,
    addresses, and the list's license requirement and policy. Exits 1 when any
    match reaches the threshold, 0 when none does, so scripts can gate on it.
    """
    from provenance.screening import ScreeningIndex, read_list, snapshots

    if not name.strip():
        raise InputError("the name to screen is empty")
    if list_file:
        index = ScreeningIndex.build(
            read_list(list_file).entries, snapshots.load_screening().policy
        )
        where = documents.display_name(list_file)
    else:
        with Ledger.open(db) as ledger:
            index, info = snapshots.load_index(ledger)
        where = f"snapshot {info['digest'][:16]} (entry {info['seq']}, {info['date']})"
    matches = index.screen(name, country, limit=limit, include_below_threshold=show_all)
    threshold = index.policy.threshold
    data = {
        "query": name,
        "country": country,
        "threshold": threshold,
        "list": where,
        "matches": [m.to_json() for m in matches],
    }

    def human() -> None:
        above = [m for m in matches if m.above_threshold]
        click.echo(f"screened {name!r} against {where}: {len(above)} match(es) >= {threshold:g}")
        for m in matches:
            mark = "MATCH" if m.above_threshold else "     "
            click.echo(
                f"{mark} {m.score:6.2f}  {m.source:<4} {m.entity_number or '-':<12} {m.name}"
                + (f"  (as {m.matched_name!r})" if m.matched_name != m.name else "")
            )
            for address in m.addresses[:2]:
                click.echo(f"               {address}")
            if m.license_requirement:
                click.echo(f"               license requirement: {m.license_requirement}")
            if m.license_policy:
                click.echo(f"               license policy: {m.license_policy}")

    emit(as_json, data, human)
    exit_on_findings(any(m.above_threshold for m in matches))

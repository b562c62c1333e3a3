"""The rules engine: `check`, `classify`, `rules`, `flag`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from provenance.commands.appending import sign_and_append
from provenance.commands.options import (
    HOLD,
    Write,
    checkpoint_key_option,
    common,
    date_option,
    emit,
    exit_on_findings,
    json_option,
    limit_option,
    limited,
    listed,
    progress_bar,
    query,
    writes,
)
from provenance.ledger import queries
from provenance.statements import kinds

# --- the rules engine ----------------------------------------------------------------------

VERDICT_STYLE = {
    "clear": "CLEAR",
    "hold": "HOLD",
    "license_required": "LICENSE REQUIRED",
    "blocked": "BLOCKED",
}


def show_determination(data: dict[str, Any], explain: bool) -> None:
    pack = data["pack"]
    click.echo(
        f"shipment {data['shipment']} under {pack['id']} (digest {pack['digest'][:16]}), "
        f"evaluated {data['evaluated_on']}: {VERDICT_STYLE[data['verdict']]}"
    )
    for item in data["items"]:
        declared = (
            f" (declared {item['declared_product']})"
            if item["declared_product"] != item["product"]
            else ""
        )
        if item["license_required"]:
            cover = f"covered by {item['covered_by']}" if item["covered_by"] else "NOT COVERED"
            need = f"license required ({item['policy']} under {item.get('governing_rule')}; "
            need += f"exceptions: {', '.join(item['exceptions']) or 'none'}), {cover}"
        else:
            need = "no license required"
        click.echo(
            f"  item {item['line']}: {item['quantity']} x {item['product']}{declared} -> "
            f"{item['eccn']} by {item['classified_by']}, TPP {item['tpp']}, PD {item['pd']}; "
            f"{need}"
        )
        if item["license_required"] and item.get("governing"):
            click.echo(f"      governs: {item['governing']}")
    if data["flags"]:
        click.echo(f"red flags ({len(data['flags'])}):")
    for flag in data["flags"]:
        ident = f" [{flag['id']}]" if flag.get("id") else ""
        where = f" item {flag['line']}" if flag["line"] is not None else ""
        resolved = f" ({flag['resolution']})" if flag.get("resolution") else ""
        click.echo(
            f"  {flag['severity'].upper():<8} {flag['rule']}{ident}{where}{resolved}: "
            f"{flag['message']}"
        )
    if explain and data.get("explain"):
        click.echo("rules that held, the expression and the facts it read:")
        for fired in data["explain"]:
            click.echo(f"  {fired['rule']}: {fired['expression']}")
            for name, value in fired["facts"].items():
                click.echo(f"      {name} = {json.dumps(value)}")


def summary(results: list[dict[str, Any]], dry_run: bool) -> None:
    """`check --all`: shipments by verdict, and the blocked and license-required ones."""
    counts: dict[str, int] = {}
    for data in results:
        counts[data["verdict"]] = counts.get(data["verdict"], 0) + 1
    click.echo(f"{len(results):,} shipments checked")
    click.echo(f"  {'verdict':<18} {'shipments':>9}")
    for verdict in ("clear", "hold", "license_required", "blocked"):
        if verdict in counts:
            click.echo(f"  {verdict.replace('_', ' '):<18} {counts[verdict]:>9,}")
    for verdict in ("blocked", "license_required"):
        ids = [d["shipment"] for d in results if d["verdict"] == verdict]
        if ids:
            shown = ", ".join(ids[:20]) + (f" and {len(ids) - 20:,} more" if ids[20:] else "")
            click.echo(f"{verdict.replace('_', ' ')}: {shown}")
    appended = sum(1 for d in results if "seq" in d and not d.get("duplicate"))
    if dry_run:
        click.echo("dry run: nothing appended")
    else:
        again = sum(1 for d in results if d.get("duplicate"))
        click.echo(f"determinations appended: {appended:,} ({again:,} already in the ledger)")
    click.echo("each shipment: provenance check ID, or --all --verbose")


def verdict_exit(results: list[dict[str, Any]]) -> None:
    """Exit 1 when a determination is blocked or needs a license nothing covers; else
    HOLD when one is on hold; else 0 (the worst verdict decides)."""
    verdicts = {r["verdict"] for r in results}
    exit_on_findings(bool(verdicts & {"blocked", "license_required"}))
    exit_on_findings("hold" in verdicts, HOLD)


@click.command("check")
@click.argument("shipment_ids", nargs=-1)
@click.option(
    "--all",
    "check_all",
    is_flag=True,
    help="Check every shipment in the ledger; ends with a summary (counts by verdict, the "
    "blocked shipments), each shipment shown only with --verbose.",
)
@click.option("--verbose", is_flag=True, help="With --all: show every shipment's determination.")
@click.option("--pack", "pack_id", default=None, help="Use this rule pack, not the one in force.")
@click.option("--explain", is_flag=True, help="Show each rule that held, its expression and facts.")
@click.option("--dry-run", is_flag=True, help="Evaluate only; append nothing.")
@date_option(
    "--as-of", help="Evaluate as on this date (default today): receipt deadlines count from it."
)
@click.option(
    "--key",
    "key_path",
    default=None,
    metavar="PEM",
    help="Operator key that signs the determination (default $PROVENANCE_OPERATOR_KEY, "
    "else operator.pem beside the checkpoint key).",
)
@click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder to use.")
@checkpoint_key_option
@common
def check(
    shipment_ids: tuple[str, ...],
    check_all: bool,
    verbose: bool,
    pack_id: str | None,
    explain: bool,
    dry_run: bool,
    as_of: dt.datetime | None,
    key_path: str | None,
    rules_dir: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Evaluate SHIPMENT_ID against the rule pack in force on its ship date.

    Prints, per item, the TPP, performance density and ECCN (and the rule that chose
    it), whether a license is required under which policy, the exceptions that
    could apply and whether the shipment's license covers it; then the red flags,
    each with its rule, severity, message and the facts it saw. Appends the
    determination, signed by the operator key, unless --dry-run. Exits 1 when a
    blocking flag or an uncovered license requirement stands (blocked,
    license_required), 6 when the verdict is hold (a high red flag neither cleared
    nor confirmed by a signed resolution: inquire, resolve it, check again), 0 when
    clear.
    """
    from provenance.compliance import checks

    if check_all and shipment_ids:
        raise click.UsageError("name shipments or give --all, not both")
    ids = checks.every_shipment(db) if check_all else list(shipment_ids)
    if check_all and not ids:
        emit(as_json, [], "nothing to check: the ledger holds no shipment in force")
        return
    with progress_bar("checking", len(ids)) as advance:
        results = checks.check_shipments(
            db,
            ids,
            pack_id=pack_id,
            explain=explain,
            dry_run=dry_run,
            as_of=as_of.date() if as_of else None,
            operator_key=key_path,
            checkpoint_key=checkpoint_key,
            rules_dir=rules_dir,
            progress=advance,
        )

    def human() -> None:
        if check_all and not verbose:
            summary(results, dry_run)
            return
        for data in results:
            show_determination(data, explain)
            if data.get("duplicate"):
                click.echo(
                    f"the same determination is already entry {data['seq']} "
                    "(same pack, facts and date): nothing appended"
                )
            elif "seq" in data:
                click.echo(f"determination appended as entry {data['seq']}")
            elif dry_run:
                click.echo("dry run: nothing appended")

    # --all is a list however many shipments it found; one id named, its object.
    emit(as_json, results[0] if len(results) == 1 and not check_all else results, human)
    verdict_exit(results)


@click.command("classify")
@click.option("--product", "product_id", default=None, help="A catalog product id.")
@click.option("--tpp", type=str, default=None, help="Total processing performance.")
@click.option("--die-area", type=str, default=None, metavar="MM2", help="Applicable die area.")
@click.option(
    "--datacenter/--no-datacenter",
    default=True,
    show_default=True,
    help="Designed or marketed for datacenters.",
)
@click.option("--interconnect", type=int, default=0, metavar="GBPS", help="Chip-to-chip GB/s.")
@click.option("--memory-bandwidth", type=int, default=0, metavar="GBPS", help="Memory GB/s.")
@date_option("--date", "on", help="Classify under the pack in force on this date (default today).")
@click.option("--pack", "pack_id", default=None, help="Classify under this pack.")
@click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder to use.")
@common
def classify(
    product_id: str | None,
    tpp: str | None,
    die_area: str | None,
    datacenter: bool,
    interconnect: int,
    memory_bandwidth: int,
    on: dt.datetime | None,
    pack_id: str | None,
    rules_dir: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """The ECCN of a chip, and why: from its catalog figures (--product) or given ones.

    TPP = 2 x MacTOPS x bit length (the highest over data types), PD = TPP / die area.
    """
    from provenance.compliance import checks

    figures = checks.ChipFigures(tpp, die_area, datacenter, interconnect, memory_bandwidth)
    result = checks.classify_figures(
        figures,
        product_id=product_id,
        on=on.date() if on else None,
        pack_id=pack_id,
        rules_dir=rules_dir,
    )
    pack = result.pack
    data = result.to_json()

    def human() -> None:
        what = product_id or f"TPP {tpp}, die area {die_area or '?'} mm2"
        click.echo(f"{what}: {data['eccn']} under {pack.id} (TPP {data['tpp']}, PD {data['pd']})")
        if data["rule"]:
            click.echo(f"  rule {data['rule']}: {data['why']}")
            for name, value in data["facts"].items():
                click.echo(
                    f"      item.{name} = {json.dumps(value)}"
                    if "." not in name
                    else f"      {name} = {json.dumps(value)}"
                )
        if data["note"]:
            click.echo(f"  note: {data['note']}")
        click.echo(f"  sources: {', '.join(data['sources'])}")

    emit(as_json, data, human)


@click.group("rules")
def rules_group() -> None:
    """The rule packs: list, show, the fact vocabulary, and the example cases."""


@rules_group.command("list")
@click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder to use.")
@json_option
def rules_list(rules_dir: str | None, as_json: bool) -> None:
    """Every pack, oldest first, with its digest and rule counts; the one in force today."""
    from provenance.compliance.packs import Library

    library = Library.load(rules_dir)
    packs = [p.summary() for p in library.all()]
    today = library.in_force(dt.datetime.now(dt.UTC).date()).id
    for p in packs:
        p["in_force"] = p["id"] == today

    def human() -> None:
        for p in packs:
            mark = "*" if p["in_force"] else "x" if p["never_bound"] else " "
            r = p["rules"]
            click.echo(
                f"{mark} {p['id']:<12} from {p['effective_from']}  {p['digest'][:16]}  "
                f"{r['classification']} classification, {r['licensing']} licensing, "
                f"{r['flags']} flag rules  {p['title']}"
            )
        click.echo("* in force today; x never bound (rescinded before compliance was due)")

    emit(as_json, packs, human)


@rules_group.command("show")
@click.argument("pack_id")
@click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder to use.")
@json_option
def rules_show(pack_id: str, rules_dir: str | None, as_json: bool) -> None:
    """A pack resolved (its parents merged): every rule, parameter and source."""
    from provenance.compliance.packs import Library

    pack = Library.load(rules_dir).get(pack_id)
    document = {k: v for k, v in pack.document.items() if k != "reference"}
    document["digest"] = pack.digest
    document["reference"] = sorted(pack.reference)
    document["superseded_by"] = pack.superseded_by()

    def human() -> None:
        click.echo(f"{pack.id}: {pack.title}")
        click.echo(
            f"effective from {pack.effective_from}; extends {' > '.join(pack.chain[1:]) or '-'}"
        )
        click.echo(f"digest {pack.digest}")
        click.echo(f"parameters: {json.dumps(pack.parameters)}")
        if pack.never_bound:
            click.echo(
                f"NEVER BOUND: rescinded {document['rescinded_on']}, before compliance was due "
                f"({document['compliance_from']}); no shipment is judged under it"
            )
        by = pack.superseded_by()
        for section in ("classification", "licensing", "flags"):
            click.echo(f"{section}:")
            if section == "licensing":
                click.echo(f"  which policy governs: {document['governing']}")
            for rule in document[section]:
                extra = rule.get("eccn") or rule.get("policy") or rule.get("severity")
                if section == "licensing" and rule.get("suspends_exceptions"):
                    extra = "suspends exceptions"
                click.echo(f"  {rule['id']} [{extra}]: {rule['when']}")
                if section != "licensing":
                    continue
                codes = [
                    e if isinstance(e, str) else f"{e['code']} ({e['reference']})"
                    for e in rule.get("exceptions", [])
                ]
                if codes:
                    click.echo(f"      exceptions: {', '.join(codes)}")
                if rule.get("supersedes"):
                    click.echo(f"      supersedes: {', '.join(rule['supersedes'])}")
                if by.get(rule["id"]):
                    click.echo(f"      superseded by: {', '.join(by[rule['id']])}")
        click.echo("sources:")
        for source in document["sources"]:
            click.echo(f"  {source['id']}: {source['title']} <{source['url']}>")

    emit(as_json, document, human)


@rules_group.command("facts")
@json_option
def rules_facts(as_json: bool) -> None:
    """The fact vocabulary: every name a rule's condition may use, its type and meaning."""
    from provenance.compliance.vocabulary import describe

    rows = describe()

    def human() -> None:
        for row in rows:
            click.echo(f"{row['name']:<34} {row['type']:<13} {row['meaning']}")

    emit(as_json, rows, human)


@rules_group.command("test")
@click.argument("directory", required=False)
@click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder to use.")
@json_option
def rules_test(directory: str | None, rules_dir: str | None, as_json: bool) -> None:
    """Run the example cases (rules/tests/*.yaml, or DIR): a shipment and the determination
    expected. Shows each case that passes or what differs; exits 1 when any fails."""
    from provenance.compliance import cases

    results = cases.run_all(directory, rules_dir)
    data = [r.to_json() for r in results]

    def human() -> None:
        for r in results:
            click.echo(f"{'ok  ' if r.passed else 'FAIL'} {r.name} ({r.pack})")
            for problem in r.problems:
                click.echo(f"       {problem}")
        failed = sum(1 for r in results if not r.passed)
        click.echo(f"{len(results) - failed} passed, {failed} failed")

    emit(as_json, data, human)
    exit_on_findings(any(not r.passed for r in results))


@click.group("flag")
def flag_group() -> None:
    """Red flags: list them, and resolve one (cleared, confirmed, escalated)."""


@flag_group.command("list")
@click.option("--open", "only_open", is_flag=True, help="Only flags not yet resolved.")
@click.option(
    "--severity",
    type=click.Choice(["info", "warning", "high", "blocking"]),
    default=None,
    help="Only this severity and above.",
)
@click.option("--shipment", "shipment_id", default=None, help="Only this shipment's flags.")
@limit_option
@common
def flag_list(
    only_open: bool,
    severity: str | None,
    shipment_id: str | None,
    limit: int | None,
    db: str | None,
    as_json: bool,
) -> None:
    """Red flags, most severe first."""
    rows = query(
        db,
        lambda ledger: queries.flags(
            ledger, only_open=only_open, severity=severity, shipment=shipment_id
        ),
    )
    rows, total = limited(rows, limit)

    def human() -> None:
        for f in rows:
            where = f" item {f['line']}" if f["line"] is not None else ""
            lapsed = f" [allow-list clearance expired {f['expires']}]" if f["expired"] else ""
            click.echo(
                f"{f['id']:<10} {f['severity'].upper():<8} {f['status']:<9} {f['subject']}{where}  "
                f"{f['rule']}: {f['message']}{lapsed}"
            )
        click.echo(listed(len(rows), total, "flag"))

    emit(as_json, rows, human)


@flag_group.command("show")
@click.argument("flag")
@common
def flag_show(flag: str, db: str | None, as_json: bool) -> None:
    """One red flag: its rule, subject, message, the facts it saw, and its history (each
    resolution, and each determination that closed or reopened it, by entry)."""
    data = query(db, lambda ledger: queries.flag(ledger, flag))

    def human() -> None:
        where = f" item {data['line']}" if data["line"] is not None else ""
        lapsed = f" (the allow-list clearance expired {data['expires']})" if data["expired"] else ""
        click.echo(f"{data['id']}: {data['rule']} ({data['severity']}), {data['status']}{lapsed}")
        click.echo(f"  on:      {data['subject']}{where}")
        click.echo(f"  raised:  entry {data['raised_seq']}, {data['raised_on']}")
        click.echo(f"  message: {data['message']}")
        for name, value in sorted(data["facts"].items()):
            click.echo(f"  fact     {name} = {json.dumps(value)}")
        click.echo(f"history ({len(data['history'])}):")
        for h in data["history"]:
            click.echo(f"  entry {h['seq']:<6} {h['status']:<9} by {h['party']}: {h['reason']}")

    emit(as_json, data, human)


@flag_group.command("resolve")
@click.argument("flag")
@click.option(
    "--status",
    required=True,
    type=click.Choice(["cleared", "confirmed", "escalated", "disputed"]),
    help="A regulator clears, confirms or escalates; the exporter disputes (with --evidence).",
)
@click.option("--reason", required=True, help="Why (kept in the ledger).")
@click.option(
    "--evidence",
    multiple=True,
    metavar="REF",
    help="What a dispute rests on: sha256:<hex> of a file, a URL, or entry:<seq> (repeatable).",
)
@date_option(
    "--expires",
    help="An allow-list clearance of a recurring false positive (regulator only): it holds "
    "until this date, inclusive.",
)
@writes
def flag_resolve(
    flag: str,
    status: str,
    reason: str,
    evidence: tuple[str, ...],
    expires: dt.datetime | None,
    write: Write,
) -> None:
    """Resolve FLAG, or answer it, under the flag policy (docs/design.md, who may sign what).

    A regulator clears, confirms or escalates any flag. The exporter of the shipment a
    flag is about may dispute it with evidence, and clear or confirm an info or warning
    flag; it may not clear a high or blocking flag, nor change a regulator's decision.
    Anything else is refused (exit 3) and nothing is written.
    """
    document: dict[str, object] = {
        "kind": "resolution",
        "flag": flag,
        "status": status,
        "reason": reason,
    }
    if evidence:
        document["evidence"] = list(evidence)
    if expires is not None:
        document["expires"] = expires.date().isoformat()
    statement = kinds.from_document(document)
    sign_and_append(statement, write)

"""`provenance report`: regulator, exporter, chip and shipment reports; verify; schema."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from provenance.commands.options import checkpoint_key_option, common, emit
from provenance.crypto import keys
from provenance.errors import InputError
from provenance.ledger.log import Ledger
from provenance.ledger.setup import open_for_append

F = TypeVar("F", bound=Callable[..., Any])

# --- reports -------------------------------------------------------------------------------


def _report_options(func: F) -> F:
    options = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["md", "html", "json", "csv"]),
            default="md",
            show_default=True,
            help="Markdown, a self-contained HTML page with plots, JSON, or CSV.",
        ),
        click.option("-o", "--output", default=None, metavar="FILE", help="Write to FILE."),
        click.option(
            "--size",
            type=int,
            default=None,
            help="Compute at the checkpoint of this tree size (default: the latest).",
        ),
        click.option(
            "--sign",
            "sign_key",
            default=None,
            metavar="PEM",
            help="Sign the JSON report as a DSSE envelope with this key (implies --format json).",
        ),
        click.option("--append", is_flag=True, help="Also append the signed report to the ledger."),
        click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder."),
        checkpoint_key_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _period_options(func: F) -> F:
    func = click.option(
        "--to", "until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day."
    )(func)
    func = click.option(
        "--from", "since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day."
    )(func)
    return click.option(
        "--period", default=None, help="A quarter (2026-Q3), a month (2026-07) or a year."
    )(func)


def _deliver(
    report: dict[str, Any],
    *,
    fmt: str,
    as_json: bool,
    output: str | None,
    sign_key: str | None,
    append: bool,
    db: str | None,
    checkpoint_key: str | None,
) -> None:
    from provenance.reports import render, verify

    if append and not sign_key:
        raise InputError("--append needs --sign KEY (the ledger holds signed statements)")
    if sign_key:
        envelope = verify.sign_report(report, [keys.load_private(Path(sign_key))])
        text = json.dumps(envelope.to_json(), indent=2) + "\n"
        if append:
            with open_for_append(db, checkpoint_key) as ledger:
                result, _ = ledger.append(envelope)
            click.echo(f"signed report appended as entry {result.seq}", err=True)
    else:
        text = render.render(report, "json" if as_json else fmt)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        cp = report["checkpoint"]
        click.echo(f"wrote {output} (checkpoint {cp['origin']} size {cp['size']})", err=True)
    else:
        click.echo(text, nl=False)


@contextmanager
def report_progress() -> Iterator[Callable[[str], None]]:
    """One line per step on a terminal (a long report says what it is computing)."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda _step: None
        return
    with console.status("report") as status:
        yield lambda step: status.update(f"report: {step} ...")


@click.group("report")
def report_group() -> None:
    """Compliance reports: for regulators, exporters and auditors; signed and verifiable."""


@report_group.command("regulator")
@_period_options
@click.option("--no-verify", is_flag=True, help="Skip the full ledger verification.")
@_report_options
@common
def report_regulator(
    period: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    no_verify: bool,
    fmt: str,
    output: str | None,
    size: int | None,
    sign_key: str | None,
    append: bool,
    rules_dir: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """The periodic report for regulators, computed at a signed checkpoint.

    Shipments and units by destination and ECCN; compute exported (TPP and
    H100-equivalents) per destination and end user, with the cumulative total;
    licenses and what was drawn against them; red flags by rule and severity, open
    and resolved, the oldest open listed; chips not received, end-use statements
    missing or expired, serials missing at inspection; the rule packs and screening
    list in force; and a full verification of the ledger.
    """
    from provenance.reports import build
    from provenance.reports.periods import period_from

    chosen = period_from(period, since.date() if since else None, until.date() if until else None)
    with Ledger.open(db) as ledger, report_progress() as say:
        report = build.regulator(
            ledger, chosen, size=size, rules_dir=rules_dir, verify=not no_verify, progress=say
        )
    _deliver(
        report,
        fmt=fmt,
        as_json=as_json,
        output=output,
        sign_key=sign_key,
        append=append,
        db=db,
        checkpoint_key=checkpoint_key,
    )


@report_group.command("exporter")
@click.option("--party", required=True, help="The exporter's party id.")
@_period_options
@_report_options
@common
def report_exporter(
    party: str,
    period: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    fmt: str,
    output: str | None,
    size: int | None,
    sign_key: str | None,
    append: bool,
    rules_dir: str | None,
    checkpoint_key: str | None,
    db: str | None,
    as_json: bool,
) -> None:
    """An exporter's own shipments, determinations, red flags and licenses for a period."""
    from provenance.reports import build
    from provenance.reports.periods import period_from

    chosen = period_from(period, since.date() if since else None, until.date() if until else None)
    with Ledger.open(db) as ledger, report_progress() as say:
        report = build.exporter(ledger, party, chosen, size=size, rules_dir=rules_dir, progress=say)
    _deliver(
        report,
        fmt=fmt,
        as_json=as_json,
        output=output,
        sign_key=sign_key,
        append=append,
        db=db,
        checkpoint_key=checkpoint_key,
    )


def _dossier_command(kind: str, argument: str) -> None:
    @report_group.command(kind)
    @click.argument("subject", metavar=argument)
    @_report_options
    @common
    def command(
        subject: str,
        fmt: str,
        output: str | None,
        size: int | None,
        sign_key: str | None,
        append: bool,
        rules_dir: str | None,
        checkpoint_key: str | None,
        db: str | None,
        as_json: bool,
    ) -> None:
        from provenance.reports import build

        with Ledger.open(db) as ledger:
            report = build.dossier(ledger, kind, subject, size=size)
        _deliver(
            report,
            fmt=fmt,
            as_json=as_json,
            output=output,
            sign_key=sign_key,
            append=append,
            db=db,
            checkpoint_key=checkpoint_key,
        )

    command.help = (
        f"An auditor's dossier of {kind} {argument}: every entry about it, with its signer "
        "and a verified inclusion proof, pinned to a signed checkpoint."
    )


_dossier_command("chip", "SERIAL")
_dossier_command("shipment", "SHIPMENT_ID")


@report_group.command("verify")
@click.argument("file", metavar="REPORT")
@click.option("--rules", "rules_dir", default=None, metavar="DIR", help="Rules folder.")
@common
def report_verify(file: str, rules_dir: str | None, db: str | None, as_json: bool) -> None:
    """Check a report (JSON, or the DSSE envelope --sign wrote) against the ledger.

    Verifies the signature against the signer's registered key, that the report's
    checkpoint is one the ledger signed and that the current tree is consistent with
    it, and recomputes every figure at that tree size. Each difference is listed,
    field by field; exit 4 when there is any.
    """
    from provenance.reports import verify

    report, envelope = verify.load(file)
    with Ledger.open(db) as ledger:
        result = verify.verify_report(ledger, report, envelope, rules_dir)

    def human() -> None:
        cp = report.get("checkpoint", {})
        if result.signed_by:
            click.echo(f"signature: valid, signed by {result.signed_by}")
        else:
            click.echo("signature: none (an unsigned report)")
        click.echo(
            f"checkpoint: size {cp.get('size')} "
            + ("signed by this ledger" if result.checkpoint_signed else "NOT signed by this ledger")
            + (
                f", consistent with the current size {result.consistent_with}"
                if result.consistent_with is not None
                else ""
            )
        )
        if result.differences:
            click.echo(f"{len(result.differences)} differences from the ledger:")
            for line in result.differences:
                click.echo(f"  {line}")
        elif result.ok:
            click.echo("every figure recomputed from the ledger matches")

    emit(as_json, result.to_json(), human)
    verify.require_ok(result)


@report_group.command("schema")
def report_schema() -> None:
    """Print the JSON Schema of report JSON (regulator, exporter, dossiers)."""
    from provenance.reports.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=2))

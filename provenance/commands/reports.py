"""`provenance report`: regulator, exporter, chip and shipment reports; verify; schema."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from provenance.commands.options import checkpoint_key_option, common, date_option, emit
from provenance.crypto import keys
from provenance.errors import InputError
from provenance.ledger.log import Ledger
from provenance.ledger.setup import open_for_append

if TYPE_CHECKING:
    from provenance.reports.periods import Period

# --- what every report command takes --------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """Where and how a report goes: its format or signature, the file, the tree size it is
    computed at, the rules folder, and the ledger (to append a signed report)."""

    fmt: str
    output: str | None
    size: int | None
    sign_key: str | None
    append: bool
    rules_dir: str | None
    checkpoint_key: str | None
    db: str | None
    as_json: bool

    def deliver(self, report: dict[str, Any]) -> None:
        """Render (or sign, and append) the report, to the file or to stdout."""
        from provenance.reports import render, verify

        if self.append and not self.sign_key:
            raise InputError("--append needs --sign KEY (the ledger holds signed statements)")
        if self.sign_key:
            envelope = verify.sign_report(report, [keys.load_private(Path(self.sign_key))])
            text = json.dumps(envelope.to_json(), indent=2) + "\n"
            if self.append:
                with open_for_append(self.db, self.checkpoint_key) as ledger:
                    result, _ = ledger.append(envelope)
                click.echo(f"signed report appended as entry {result.seq}", err=True)
        else:
            text = render.render(report, "json" if self.as_json else self.fmt)
        if self.output:
            Path(self.output).write_text(text, encoding="utf-8")
            cp = report["checkpoint"]
            click.echo(
                f"wrote {self.output} (checkpoint {cp['origin']} size {cp['size']})", err=True
            )
        else:
            click.echo(text, nl=False)


def _report_options(func: Callable[..., None]) -> Callable[..., None]:
    """The options of every report, given to the command as one `delivery: Delivery`."""

    @functools.wraps(func)
    def command(
        *args: Any,
        fmt: str,
        output: str | None,
        size: int | None,
        sign_key: str | None,
        append: bool,
        rules_dir: str | None,
        checkpoint_key: str | None,
        db: str | None,
        as_json: bool,
        **kwargs: Any,
    ) -> None:
        delivery = Delivery(
            fmt, output, size, sign_key, append, rules_dir, checkpoint_key, db, as_json
        )
        func(*args, delivery=delivery, **kwargs)

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
    decorated: Callable[..., None] = common(command)
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


def _period_options(func: Callable[..., None]) -> Callable[..., None]:
    """`--period`, or `--from` and `--to`, given to the command as one `period: Period`."""

    @functools.wraps(func)
    def command(
        *args: Any,
        period: str | None,
        since: dt.datetime | None,
        until: dt.datetime | None,
        **kwargs: Any,
    ) -> None:
        from provenance.reports.periods import period_from

        chosen = period_from(
            period, since.date() if since else None, until.date() if until else None
        )
        func(*args, period=chosen, **kwargs)

    decorated: Callable[..., None] = date_option("--to", "until", help="Last day.")(command)
    decorated = date_option("--from", "since", help="First day.")(decorated)
    return click.option(
        "--period", default=None, help="A quarter (2026-Q3), a month (2026-07) or a year."
    )(decorated)


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
@click.option("--no-verify", is_flag=True, help="Skip the ledger verification.")
@click.option(
    "--location-days",
    type=click.IntRange(1, 3650),
    default=30,
    show_default=True,
    help="List controlled serials with no location evidence in this many days up to the "
    "period's end.",
)
@_report_options
def report_regulator(
    period: Period, no_verify: bool, location_days: int, delivery: Delivery
) -> None:
    """The periodic report for regulators, computed at a signed checkpoint.

    Shipments and units by destination and ECCN; compute exported (TPP and
    H100-equivalents) per destination and end user, with the cumulative total;
    licenses and what was drawn against them; red flags by rule and severity, open
    and resolved, the oldest open listed; chips not received, end-use statements
    missing or expired, serials missing at inspection; the 2026 rule's 50% cap per
    product (China/Macau against US end users, by month); the 25% figure on envelope
    chips to China/Macau and the 15% share of the August 2025 H20/MI308 licenses
    (computed from declared values: not a tax assessment); controlled serials with no
    location evidence in the last --location-days; the rule packs and screening list in
    force; and a verification of the ledger (against the auditor's state of
    `ledger verify`: only the entries appended since the last verified checkpoint).
    """
    from provenance.ledger.audit_state import AuditState
    from provenance.reports import build

    with Ledger.open(delivery.db) as ledger, report_progress() as say:
        report = build.regulator(
            ledger,
            period,
            size=delivery.size,
            rules_dir=delivery.rules_dir,
            verify=not no_verify,
            progress=say,
            audit_state=AuditState(),
            location_days=location_days,
        )
    delivery.deliver(report)


@report_group.command("exporter")
@click.option("--party", required=True, help="The exporter's party id.")
@_period_options
@_report_options
def report_exporter(party: str, period: Period, delivery: Delivery) -> None:
    """An exporter's own shipments, determinations, red flags and licenses for a period."""
    from provenance.reports import build

    with Ledger.open(delivery.db) as ledger, report_progress() as say:
        report = build.exporter(
            ledger, party, period, size=delivery.size, rules_dir=delivery.rules_dir, progress=say
        )
    delivery.deliver(report)


def _dossier_command(kind: str, argument: str) -> None:
    @report_group.command(kind)
    @click.argument("subject", metavar=argument)
    @_report_options
    def command(subject: str, delivery: Delivery) -> None:
        from provenance.reports import build

        with Ledger.open(delivery.db) as ledger:
            report = build.dossier(ledger, kind, subject, size=delivery.size)
        delivery.deliver(report)

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

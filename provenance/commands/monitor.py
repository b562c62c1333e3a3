"""`provenance monitor`: follow a served ledger, report what concerns you."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from provenance.commands.options import exit_on_findings, witness_policy_option


def _line(report: dict[str, Any]) -> str:
    signers = ", ".join(s["party"] or s["keyid"][:16] for s in report["signers"]) or "nobody"
    return (
        f"entry {report['seq']} ({report['kind']}, {report['integrated_at']}) signed by "
        f"{signers}: {'; '.join(report['reasons'])}"
    )


@click.command("monitor")
@click.argument("url", envvar="PROVENANCE_LEDGER")
@click.option(
    "--watch-serials",
    "serials_file",
    default=None,
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False),
    help="Serials to watch, one a line (# comments).",
)
@click.option("--watch-party", "parties", multiple=True, metavar="ID", help="A party to watch.")
@click.option(
    "--watch-key", "watched_keys", multiple=True, metavar="KEYID", help="A key id to watch."
)
@click.option(
    "--state",
    "state_dir",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Where the monitor keeps the last checkpoint, its place and the keys it learned.",
)
@click.option(
    "--key",
    "key_path",
    required=True,
    metavar="PEM",
    help="A registered key: requests are signed with it; it reads what its party may.",
)
@click.option(
    "--ledger-key",
    default=None,
    metavar="VKEY",
    help="The ledger's verifier key, or a file whose last line holds it (default: the one "
    "pinned at first contact).",
)
@witness_policy_option
@click.option("--once", "mode", flag_value="once", default=True, help="One round (default).")
@click.option("--follow", "mode", flag_value="follow", help="Keep following until interrupted.")
@click.option(
    "--interval",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.05),
    help="With --follow: seconds between rounds.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON lines even on a terminal.")
def monitor(
    url: str,
    serials_file: str | None,
    parties: tuple[str, ...],
    watched_keys: tuple[str, ...],
    state_dir: str,
    key_path: str,
    ledger_key: str | None,
    witness_policy: str | None,
    mode: str,
    interval: float,
    as_json: bool,
) -> None:
    """Follow a served ledger and report entries about watched serials, parties, keys.

    Each new checkpoint is checked against the last one seen (a split view is exit 4,
    with both checkpoints); the new entries the key may read are proved in the tree and
    matched. Reports are JSON lines on stdout (a readable line on a terminal). With
    --once (the default), exit 1 when something was reported; --follow runs until
    interrupted. A restarted monitor resumes after the last entry it read.
    """
    from provenance import documents
    from provenance.crypto import keys
    from provenance.errors import InputError
    from provenance.remote.client import RemoteLedger, SplitView, State
    from provenance.remote.monitor import Monitor, Watch

    serials: set[str] = set()
    if serials_file:
        text = documents.read_bytes(serials_file).decode("utf-8", errors="replace")
        serials = {s.strip() for s in text.splitlines() if s.strip() and not s.startswith("#")}
    watch = Watch(frozenset(serials), frozenset(parties), frozenset(watched_keys))
    if watch.empty():
        raise InputError("nothing to watch", hint="--watch-serials, --watch-party, --watch-key")
    policy = None
    if witness_policy:
        from provenance.tlog.policy import load

        policy = load(witness_policy)
    directory = Path(state_dir)
    human = sys.stdout.isatty() and not as_json
    found = False
    key = keys.load_private(Path(key_path))
    with RemoteLedger(
        url, key=key, ledger_key=ledger_key, state=State(directory), witness_policy=policy
    ) as remote:
        watcher = Monitor(remote, watch, directory)
        while True:
            try:
                done = watcher.round()
            except SplitView as exc:
                split = {"split_view": {"remembered": exc.remembered, "shown": exc.shown}}
                click.echo(json.dumps(split) if not human else exc.message)
                raise
            for report in done.reported:
                click.echo(_line(report) if human else json.dumps(report))
                found = True
            sys.stdout.flush()
            if mode == "once":
                break
            time.sleep(interval)
    exit_on_findings(found)

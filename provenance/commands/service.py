"""`provenance serve`: the ledger as a network service; `provenance mirror`: a verified
replica of a served ledger."""

from __future__ import annotations

import os

import click

from provenance.commands.options import (
    db_option,
    emit,
    json_option,
    progress_bar,
    witness_policy_option,
)


@click.command("serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (several need PostgreSQL; SQLite serves one host, one worker).",
)
@click.option(
    "--checkpoint-key",
    "checkpoint_keys",
    multiple=True,
    metavar="PEM",
    help="The ledger's checkpoint key, mode 0600 (default $PROVENANCE_CHECKPOINT_KEY). "
    "Only the service holds it; encrypted at rest when PROVENANCE_KEY_PASSPHRASE is set.",
)
@click.option(
    "--operator-key",
    default=None,
    metavar="PEM",
    help="The operator key that signs the determination of each shipment appended "
    "(default $PROVENANCE_OPERATOR_KEY; without one, shipments are not checked).",
)
@click.option(
    "--max-body",
    default=4 * 1024 * 1024,
    show_default=True,
    type=click.IntRange(1024),
    help="Largest request body, bytes (413 beyond).",
)
@click.option(
    "--max-outstanding",
    default=4096,
    show_default=True,
    type=click.IntRange(1),
    help="Submissions waiting per worker before the service answers 429 (pushback).",
)
@click.option(
    "--rate",
    default=50.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Signed requests a second per key (bursts of --burst; 429 beyond).",
)
@click.option("--burst", default=200, show_default=True, type=click.IntRange(1))
@click.option(
    "--request-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds a client has to send a request's headers, and again its body (408).",
)
@click.option(
    "--witness-policy",
    default=None,
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False),
    help="A C2SP tlog-policy file: each checkpoint is submitted to its witnesses and "
    "published only once their quorum cosigned it.",
)
@click.option(
    "--witness-wait",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds a submission waits for a witnessed checkpoint (503 after; retry).",
)
@click.option(
    "--access-log",
    default="-",
    show_default=True,
    metavar="FILE",
    help="JSON-lines access log: a file, or - for stderr.",
)
@json_option
def serve(
    db: str | None,
    host: str,
    port: int,
    workers: int,
    checkpoint_keys: tuple[str, ...],
    operator_key: str | None,
    max_body: int,
    max_outstanding: int,
    rate: float,
    burst: int,
    request_timeout: float,
    witness_policy: str | None,
    witness_wait: float,
    access_log: str,
    as_json: bool,
) -> None:
    """Serve the ledger over HTTP: C2SP tlog-tiles for anyone, signed reads, the write API.

    Public: /checkpoint, /tile/<L>/<N>[.p/<W>], /v1/proofs/...; signed with a registered
    key (RFC 9421): /v1/entries, /tile/entries/..., /v1/chips/SERIAL, /v1/shipments/ID,
    /v1/status;
    POST /v1/entries appends a DSSE envelope as `ledger append` does (201; 200 when it is
    already there). Errors are RFC 9457 problems. /healthz, /metrics (Prometheus).
    SIGTERM finishes the batch in flight, then stops.
    """
    from provenance.ledger.database import database_url
    from provenance.ledger.setup import CHECKPOINT_KEY_ENV, OPERATOR_KEY_ENV
    from provenance.service.config import ServiceConfig
    from provenance.service.server import run

    keys = list(checkpoint_keys) or (
        [os.environ[CHECKPOINT_KEY_ENV]] if os.environ.get(CHECKPOINT_KEY_ENV) else []
    )
    config = ServiceConfig(
        db=database_url(db),
        checkpoint_keys=keys,
        operator_key=operator_key or os.environ.get(OPERATOR_KEY_ENV) or None,
        max_body=max_body,
        max_outstanding=max_outstanding,
        rate=rate,
        burst=burst,
        header_timeout=request_timeout,
        body_timeout=request_timeout,
        witness_policy=witness_policy,
        witness_wait=witness_wait,
        access_log=access_log,
    )
    if witness_policy is not None:
        from provenance.tlog import policy

        policy.load(witness_policy)  # refuse a malformed policy before starting
    started = {
        "url": f"http://{host}:{port}",
        "database": config.db.split("://")[0],
        "workers": workers,
        "max_body": max_body,
        "max_outstanding": max_outstanding,
        "rate": rate,
        "burst": burst,
    }
    emit(as_json, started, f"serving the {started['database']} ledger on {started['url']}")
    run(config, host=host, port=port, workers=workers)


@click.command("mirror")
@click.argument("url", envvar="PROVENANCE_LEDGER")
@db_option
@click.option(
    "--key",
    "key_path",
    required=True,
    metavar="PEM",
    help="An operator's, auditor's or regulator's key: requests are signed with it.",
)
@click.option(
    "--ledger-key",
    default=None,
    metavar="VKEY",
    help="The ledger's verifier key, or a file whose last line holds it (default: the one "
    "pinned at first contact).",
)
@witness_policy_option
@json_option
def mirror(
    url: str,
    db: str | None,
    key_path: str,
    ledger_key: str | None,
    witness_policy: str | None,
    as_json: bool,
) -> None:
    """Pull a served ledger into a verified replica (--db), for reports and audits.

    Every signature, every signer's authority as of its entry, the tree against each
    signed checkpoint and the checkpoints' consistency are verified before anything is
    written; one altered byte stops the mirror with exit 4 and nothing of the run is
    written. `report`, `check --dry-run`, `chip` and `ledger verify` then run on the
    replica unchanged. Run it again to pull what was appended since.
    """
    from pathlib import Path

    from provenance.crypto import keys
    from provenance.remote.client import RemoteLedger
    from provenance.remote.mirror import mirror as pull

    policy = None
    if witness_policy:
        from provenance.tlog.policy import load

        policy = load(witness_policy)
    key = keys.load_private(Path(key_path))
    with RemoteLedger(url, key=key, ledger_key=ledger_key, witness_policy=policy) as remote:
        checkpoint, _ = remote.checkpoint()
        if remote.pinned_now:
            click.echo(f"pinned the ledger key of {remote.origin}: {remote.verifier_key}", err=True)
        with progress_bar("mirroring", checkpoint.size) as advance:
            done = pull(remote, db, advance)
    emit(
        as_json,
        done.to_json(),
        f"replica of {done.origin} at tree size {done.size}: {done.pulled} entries pulled "
        f"and verified; root {done.root.hex()}",
    )

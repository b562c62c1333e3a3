"""`provenance witness`: a C2SP tlog-witness that cosigns a ledger's checkpoints."""

from __future__ import annotations

from pathlib import Path

import click

from provenance.commands.options import emit, json_option


@click.group("witness")
def witness_group() -> None:
    """A transparency-log witness (C2SP tlog-witness): cosign consistent checkpoints."""


@witness_group.command("init")
@click.option(
    "--name",
    required=True,
    help="The witness's name, a schema-less URL (e.g. witness.example.org/w1).",
)
@click.option(
    "--key",
    "key_path",
    default="witness.key",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the witness key (mode 0600; never overwritten).",
)
@json_option
def witness_init(name: str, key_path: str, as_json: bool) -> None:
    """Write a new Ed25519 cosigner key and print its verifier key (vkey, type 0x04).

    The verifier key is what a witness policy's `witness` line names. The key file is
    a Go note signer key, as transparency-dev's witness reads it.
    """
    from provenance.tlog import cosignature
    from provenance.witnessing.server import write_cosigner

    signer, vkey = cosignature.generate(name)
    write_cosigner(Path(key_path), signer)
    emit(as_json, {"name": name, "key": key_path, "vkey": vkey}, vkey)


@witness_group.command("serve")
@click.option(
    "--db",
    required=True,
    help="The witness's own database: an SQLite path or a PostgreSQL URL.",
)
@click.option(
    "--key",
    "key_path",
    default="witness.key",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The witness key (`witness init`), mode 0600.",
)
@click.option(
    "--log",
    "logs",
    multiple=True,
    required=True,
    metavar="ORIGIN=VKEY",
    help="A log it witnesses: its origin and its checkpoint verifier key "
    "(`provenance ledger key`); repeat for more logs or keys.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8081, show_default=True, type=int, help="Port to listen on.")
@json_option
def witness_serve(
    db: str, key_path: str, logs: tuple[str, ...], host: str, port: int, as_json: bool
) -> None:
    """Serve POST /add-checkpoint (C2SP tlog-witness v1.0.0) for the logs given.

    A checkpoint is cosigned only when signed by its log and consistent with the last one
    this witness cosigned for that log; the new state is committed before the answer.
    GET /<sha256(origin) hex>/checkpoint serves the latest cosigned checkpoint.
    """
    from provenance.witnessing.server import WitnessConfig, build, run

    config = WitnessConfig(db=db, key=key_path, logs=list(logs))
    witness = build(config)  # fail here on a bad key, log or database
    witness.store.close()
    data = {
        "url": f"http://{host}:{port}",
        "name": witness.cosigner.name,
        "vkey": str(witness.cosigner.key()),
        "logs": sorted(witness.logs),
    }
    emit(as_json, data, f"witness {data['name']} on {data['url']} for {', '.join(data['logs'])}")
    run(config, host=host, port=port)

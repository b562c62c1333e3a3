"""Running a witness under uvicorn: its configuration, its key, its logs."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from provenance.errors import ConfigError, InputError, NotFoundError
from provenance.tlog import note
from provenance.tlog.cosignature import Cosigner
from provenance.witnessing.store import WitnessStore
from provenance.witnessing.witness import Witness


def load_cosigner(path: Path) -> Cosigner:
    """The witness's key file (written by `provenance witness init`, mode 0600)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFoundError(f"no witness key at {path}", hint="provenance witness init") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"the witness key {path} is readable by others: chmod 600 it")
    try:
        return Cosigner.parse(text)
    except InputError as exc:
        raise ConfigError(f"{path} is not a witness key: {exc}") from exc


def write_cosigner(path: Path, signer_text: str) -> None:
    if path.exists():
        raise InputError(f"{path} exists: not overwriting a witness key")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(signer_text + "\n")


def parse_logs(specs: list[str]) -> dict[str, list[note.Verifier]]:
    """`ORIGIN=VKEY` options (a log may be named several times, one key each)."""
    logs: dict[str, list[note.Verifier]] = {}
    for spec in specs:
        origin, sep, vkey = spec.partition("=")
        if not sep or not origin:
            raise InputError(f"--log {spec!r}: want ORIGIN=VKEY")
        verifier = note.Verifier.parse(vkey)
        logs.setdefault(origin, []).append(verifier)
    if not logs:
        raise InputError("a witness needs at least one --log ORIGIN=VKEY")
    return logs


@dataclass(frozen=True)
class WitnessConfig:
    db: str
    key: str
    logs: list[str]


def build(config: WitnessConfig) -> Witness:
    return Witness(
        load_cosigner(Path(config.key)), parse_logs(config.logs), WitnessStore(config.db)
    )


def run(config: WitnessConfig, *, host: str, port: int) -> None:
    import uvicorn

    from provenance.witnessing.app import create_app

    witness = build(config)
    uvicorn.run(
        create_app(witness),
        host=host,
        port=port,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
        access_log=False,
        log_level="warning",
    )

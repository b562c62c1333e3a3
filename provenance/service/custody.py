"""The checkpoint key's custody: the service holds it, nothing else needs it.

Its path comes from the service's own configuration (`--checkpoint-key`, or
`PROVENANCE_CHECKPOINT_KEY` in the service's environment), never from the database
(`ledger_info.key_path` is not read here), and no client needs it: clients sign their
statements, the service signs checkpoints. The file must be readable by its owner only
(mode 0600 or stricter: anything else is refused at start-up), and is encrypted at rest
when `PROVENANCE_KEY_PASSPHRASE` is set in the service's environment.
"""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

from provenance.crypto import keys
from provenance.crypto.keys import SigningKey
from provenance.errors import ConfigError, MissingFileError
from provenance.ledger import checkpoint_keys
from provenance.ledger.log import Ledger
from provenance.service.config import ServiceConfig
from provenance.tlog import note


def load_checkpoint_key(path: Path, passphrase: str | None = None) -> SigningKey:
    """The checkpoint key from its file, refused unless only its owner can read it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise ConfigError(f"the checkpoint key {path} is not there") from exc
    if not stat.S_ISREG(mode):
        raise ConfigError(f"the checkpoint key {path} is not a file")
    if mode & 0o077:
        raise ConfigError(
            f"the checkpoint key {path} is readable by others (mode {stat.S_IMODE(mode):04o})",
            hint=f"chmod 600 {path}",
        )
    try:
        return keys.load_private(path, passphrase)
    except MissingFileError as exc:
        raise ConfigError(str(exc)) from exc


def open_ledger(config: ServiceConfig) -> Ledger:
    """The ledger, ready to append with the checkpoint key the service holds."""
    if not config.checkpoint_keys:
        raise ConfigError(
            "the service needs the ledger's checkpoint key",
            hint="pass --checkpoint-key KEY.pem (mode 0600) or set PROVENANCE_CHECKPOINT_KEY",
        )
    ledger = Ledger.open(config.db)
    try:
        loaded = [load_checkpoint_key(Path(p)) for p in config.checkpoint_keys]
        ledger.use_checkpoint_key(*loaded)
        check_rotation(
            ledger, [str(note.Signer.from_signing_key(ledger.origin, k).verifier()) for k in loaded]
        )
    except BaseException:
        ledger.close()
        raise
    return ledger


def check_rotation(ledger: Ledger, loaded: list[str], today: dt.date | None = None) -> None:
    """Refuse keys the ledger's announcements retired, and require the keys it signs
    with today: a replaced key only until the end of its overlap, the new key from its
    announcement on (the service restarts with both keys for the overlap)."""
    with ledger.store.read() as conn:
        announced = checkpoint_keys.rotations(conn)
    wanted = checkpoint_keys.signing_keys(
        ledger.verifier_key, announced, today or dt.datetime.now(dt.UTC).date()
    )
    retired = [k for k in loaded if k not in wanted]
    if retired:
        raise ConfigError(
            f"the checkpoint key {retired[0]} was replaced and its overlap has ended",
            hint="start the service with the new key only",
        )
    missing = [k for k in wanted if k not in loaded]
    if missing:
        raise ConfigError(
            f"the ledger's checkpoint key {missing[0]} is announced but not loaded",
            hint="during a rotation's overlap, pass --checkpoint-key twice: the old key and "
            "the new",
        )

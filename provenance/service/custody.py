"""The checkpoint key's custody: the service holds it, nothing else needs it.

Its path comes from the service's own configuration (`--checkpoint-key`, or
`PROVENANCE_CHECKPOINT_KEY` in the service's environment), never from the database
(`ledger_info.key_path` is not read here), and no client needs it: clients sign their
statements, the service signs checkpoints. The file must be readable by its owner only
(mode 0600 or stricter: anything else is refused at start-up), and is encrypted at rest
when `PROVENANCE_KEY_PASSPHRASE` is set in the service's environment.
"""

from __future__ import annotations

import stat
from pathlib import Path

from provenance.crypto import keys
from provenance.crypto.keys import SigningKey
from provenance.errors import ConfigError, NotFoundError
from provenance.ledger.log import Ledger
from provenance.service.config import ServiceConfig


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
    except NotFoundError as exc:
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
        ledger.use_checkpoint_key(loaded[0])
    except BaseException:
        ledger.close()
        raise
    return ledger

"""What an auditor remembers of the ledgers it audited, in a file of its own.

The audit trusts nothing the database says about itself: the key that signs its
checkpoints and how far it had grown are what the auditor saw before, kept outside the
database (`$PROVENANCE_STATE_DIR/audits.json`, else `$XDG_STATE_HOME/provenance/`, else
`~/.local/state/provenance/`, or a file given with `ledger verify --state FILE`). One
record per database (an SQLite file's absolute path, a server URL without its password):

* `origin`, `pinned` (the checkpoint verifier key the auditor trusts) and `keys` (every
  checkpoint key of the ledger, the first one, then each announced by a `checkpoint-key`
  entry, with the smallest tree size whose checkpoint it may sign);
* `size`, `root`, `note`: the last checkpoint verified;
* `checkpoints`: how many checkpoints the ledger had signed up to `size` (a deleted
  middle checkpoint is missed otherwise);
* `key_seqs`: the entries below `size` that register, change or revoke parties and keys
  (the incremental audit re-proves each against the new root, and rebuilds the key
  history from them).

Written atomically (a temporary file, then a rename), mode 0600.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from provenance.errors import ConfigError

STATE_ENV = "PROVENANCE_STATE_DIR"
FILE_NAME = "audits.json"


def state_dir() -> Path:
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "provenance"


def database_key(url: str) -> str:
    """How a database is named in the state: an SQLite file by its absolute path, any
    other by its URL without the password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return "sqlite:" + str(Path(parsed.database).resolve())
    return parsed.render_as_string(hide_password=True)


@dataclass
class Seen:
    """What the auditor verified last of one ledger."""

    origin: str
    pinned: str
    """The checkpoint verifier key the auditor trusts (given, or first seen)."""
    keys: list[tuple[str, int]]
    """Every checkpoint key of the ledger, the first first: (verifier key, smallest tree
    size whose checkpoint it may sign)."""
    size: int
    root: str
    note: str
    checkpoints: int
    key_seqs: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        value = asdict(self)
        value["keys"] = [list(k) for k in self.keys]
        return value

    @classmethod
    def from_json(cls, value: Any, where: str) -> Seen:
        try:
            keys = [(str(k), int(f)) for k, f in value["keys"]]
            seen = cls(
                str(value["origin"]),
                str(value["pinned"]),
                keys,
                int(value["size"]),
                str(value["root"]),
                str(value["note"]),
                int(value["checkpoints"]),
                [int(s) for s in value.get("key_seqs", [])],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the audit state {where} is malformed: {exc!r}") from None
        if not seen.keys or seen.size < 0:
            raise ConfigError(f"the audit state {where} is malformed: no key or a bad size")
        return seen


class AuditState:
    """The auditor's state file: one `Seen` per database."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else state_dir() / FILE_NAME

    def _load(self) -> dict[str, Any]:
        try:
            value = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the audit state {self.path}: {exc}") from exc
        if not isinstance(value, dict):
            raise ConfigError(f"the audit state {self.path} is not a JSON object")
        return value

    def get(self, url: str) -> Seen | None:
        record = self._load().get(database_key(url))
        return None if record is None else Seen.from_json(record, str(self.path))

    def pinned_for(self, origin: str) -> str | None:
        """The key remembered for this origin from another database (a replica, a copy)."""
        for record in self._load().values():
            if isinstance(record, dict) and record.get("origin") == origin:
                return Seen.from_json(record, str(self.path)).pinned
        return None

    def put(self, url: str, seen: Seen) -> None:
        records = self._load()
        records[database_key(url)] = seen.to_json()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(
            f".{self.path.name}.tmp{os.getpid()}.{threading.get_ident()}"
        )
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(records, indent=1) + "\n")
        os.replace(temporary, self.path)


__all__ = ["AuditState", "Seen", "database_key", "state_dir"]

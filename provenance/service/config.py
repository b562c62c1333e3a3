"""The service's configuration: what `provenance serve` is given (options, or the
environment), passed to each worker process as JSON in `PROVENANCE_SERVICE_CONFIG`."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

CONFIG_ENV = "PROVENANCE_SERVICE_CONFIG"


@dataclass(frozen=True)
class ServiceConfig:
    db: str
    checkpoint_keys: list[str] = field(default_factory=list)
    """The ledger's checkpoint key files (mode 0600; two during a rotation's overlap)."""
    operator_key: str | None = None
    """The operator key that signs shipments' determinations (none: no determination)."""
    max_body: int = 4 * 1024 * 1024
    body_timeout: float = 10.0
    header_timeout: float = 10.0
    idle_timeout: int = 5
    max_batch: int = 256
    max_wait: float = 0.005
    max_outstanding: int = 4096
    rate: float = 50.0
    burst: int = 200
    witness_policy: str | None = None
    """A C2SP tlog-policy file: checkpoints are published once its witnesses' quorum
    cosigned them (none: every checkpoint at once, with the log's signature only)."""
    witness_wait: float = 10.0
    """Seconds a submission waits for its checkpoint to be witnessed (503 after)."""
    access_log: str | None = "-"
    """Where the JSON access log goes: a file, `-` for stderr, None for nowhere."""

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServiceConfig:
        return cls(**json.loads(os.environ[CONFIG_ENV]))

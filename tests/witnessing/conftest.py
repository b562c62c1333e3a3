"""A real witness: `provenance witness serve` in its own process on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from provenance.tlog import cosignature
from provenance.witnessing.server import write_cosigner
from tests.service.conftest import ROOT, answers_health, free_port


@dataclass
class WitnessServer:
    dir: Path
    name: str
    logs: list[str]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    vkey: str = ""
    key: Path = field(init=False)
    db: Path = field(init=False)

    def __post_init__(self) -> None:
        self.key = self.dir / f"{self.name.replace('/', '_')}.key"
        self.db = self.dir / f"{self.name.replace('/', '_')}.db"
        if not self.key.exists():
            signer, self.vkey = cosignature.generate(self.name)
            write_cosigner(self.key, signer)
        else:
            self.vkey = str(cosignature.Cosigner.parse(self.key.read_text()).key())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cosigner_key(self) -> cosignature.CosignerKey:
        return cosignature.CosignerKey.parse(self.vkey)

    def start(self, timeout: float = 120.0) -> WitnessServer:
        self.port = self.port or free_port()
        log = open(self.dir / f"witness-{self.port}.log", "ab")  # noqa: SIM115
        args = [sys.executable, "-m", "provenance", "witness", "serve", "--db", str(self.db)]
        args += ["--key", str(self.key), "--port", str(self.port)]
        for spec in self.logs:
            args += ["--log", spec]
        self.process = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=log)
        if not answers_health(self.process, self.url, timeout, "witness", self.log):
            self.stop()
            raise RuntimeError(f"the witness did not answer: {self.log()}")
        return self

    def log(self) -> str:
        path = self.dir / f"witness-{self.port}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

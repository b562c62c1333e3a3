"""Fixtures shared by the suite.

Database tests take the `db_url` fixture and run once per backend: SQLite
always, PostgreSQL too when `PROVENANCE_TEST_DB` is a SQLAlchemy URL. Each
PostgreSQL test gets a schema of its own, dropped afterwards. When
`PROVENANCE_TEST_DB` is set but the server cannot be reached, the tests fail:
they never skip PostgreSQL silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, create_engine, text

from provenance.crypto import keys
from provenance.crypto.envelope import Envelope
from provenance.crypto.keys import SigningKey
from provenance.ledger.database import database_url
from provenance.ledger.log import Ledger
from provenance.ledger.setup import initialise
from provenance.offline.entries import Appended, Receipt
from provenance.statements import kinds
from provenance.statements.signing import sign

PG_ENV = "PROVENANCE_TEST_DB"

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=200
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

DATA = Path(__file__).parent / "data"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under CI the suite must run on PostgreSQL too: refuse to start without it. No
    configuration file of the user's applies (an empty XDG_CONFIG_HOME)."""
    import tempfile

    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="provenance-xdg-")
    if os.environ.get("CI") and not os.environ.get(PG_ENV):
        raise pytest.UsageError(f"CI is set but {PG_ENV} is not: the suite needs PostgreSQL")
    if os.environ.get(PG_ENV):
        engine = create_engine(database_url(os.environ[PG_ENV]))
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise pytest.UsageError(f"{PG_ENV} is set but unreachable: {exc}") from exc
        finally:
            engine.dispose()


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test remembers ledgers (the client's, the auditor's) in a directory of its own."""
    monkeypatch.setenv("PROVENANCE_STATE_DIR", str(tmp_path / "state"))


def tamper(engine: Engine, statement: str, params: dict[str, object] | None = None) -> None:
    """What an attacker with raw database access does: disable the guard, then edit."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            names = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            ).scalars()
            for name in list(names):
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            conn.exec_driver_sql("SET session_replication_role = replica")
        conn.execute(text(statement), params or {})
        conn.commit()


def flip_payload_byte(leaf: bytes, offset: int, bit: int) -> bytes:
    """The leaf with one bit flipped inside its envelope's base64 payload."""
    i = leaf.index(b'"payload"') + offset
    return leaf[:i] + bytes([leaf[i] ^ bit]) + leaf[i + 1 :]


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(PG_ENV) else ["sqlite"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_url" in metafunc.fixturenames:
        metafunc.parametrize("db_url", backends(), indirect=True)


def pg_schema_url(base: str, schema: str) -> str:
    url = database_url(base)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for a ledger that does not exist yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    base = os.environ[PG_ENV]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url(base))
    with admin.begin() as conn:  # fails the test (not skips) if PostgreSQL is down
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield pg_schema_url(base, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@dataclass
class World:
    """A fresh ledger with its operator, and helpers to add parties and statements."""

    db: str
    dir: Path
    ledger: Ledger
    operator: SigningKey
    party_keys: dict[str, SigningKey] = field(default_factory=dict)

    def register(
        self,
        party_id: str,
        roles: list[str],
        country: str = "US",
        headquarters: str | None = None,
        algorithm: str = "ed25519",
        **extra: object,
    ) -> SigningKey:
        key = keys.generate(algorithm)
        statement = kinds.from_document(
            {
                "kind": "party",
                "id": party_id,
                "name": f"{party_id.title()} Inc.",
                "roles": roles,
                "country": country,
                "headquarters": headquarters or country,
                "keys": [key.verifying.pem()],
                **extra,
            }
        )
        self.ledger.append(sign(statement, [self.operator]))
        self.party_keys[party_id] = key
        return key

    def envelope(self, document: dict[str, object], *signers: SigningKey) -> Envelope:
        return sign(kinds.from_document(document), list(signers))

    def append(self, document: dict[str, object], *signers: SigningKey) -> tuple[Appended, Receipt]:
        return self.ledger.append(self.envelope(document, *signers))


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    done = initialise(
        db_url, origin="test.example/ledger", keys_dir=tmp_path / "keys", with_catalog=False
    )
    operator = keys.load_private(done.operator_key)
    try:
        yield World(db_url, tmp_path, done.ledger, operator)
    finally:
        done.ledger.close()

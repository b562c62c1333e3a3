"""Who is asking: a signed request checked against the key's state in the ledger now, a
replay window, and a rate limit per key.

1. The key the signature names must be registered and not revoked (403 otherwise).
2. Its RFC 9421 signature must verify over the method, path, query and body digest,
   created within `signing.MAX_AGE` seconds (401 otherwise).
3. Its nonce must be new: every accepted nonce is kept in `request_nonces` until the
   window ends, so a replay to any worker is refused (401).
4. A key may make `rate` requests a second, in bursts of `burst` (429 beyond).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError as DuplicateKey

from provenance.crypto.keys import VerifyingKey
from provenance.errors import AuthorizationError, InputError
from provenance.ledger import access
from provenance.ledger.access import Reader
from provenance.ledger.database import Store, utcnow
from provenance.ledger.tables import RequestNonceRow
from provenance.remote import signing
from provenance.service import problems


@dataclass
class RateLimit:
    """A token bucket per key: `rate` a second, `burst` at once."""

    rate: float = 50.0
    burst: int = 200
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def empty(self, keyid: str) -> float:
        """The seconds until `keyid` has a token again (0 when it has one); takes none."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(keyid, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, keyid: str) -> float:
        """Take a token for `keyid`; return 0, or the seconds until one is free."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(keyid, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[keyid] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[keyid] = (tokens - 1, now)
            if len(self._buckets) > 100_000:  # forget idle keys, bounded memory
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
            return 0.0


class Authenticator:
    def __init__(self, store: Store, limit: RateLimit | None = None) -> None:
        self.store = store
        self.limit = limit or RateLimit()
        self._accepted = 0

    def authenticate(self, message: signing.Message, body: bytes) -> Reader:
        """The reader behind a signed request, or a `Problem` (401, 403, 429)."""
        try:
            keyid = signing.claimed_keyid(message.headers)
        except InputError as exc:
            raise problems.unauthenticated(
                f"{exc.message}: this resource needs a request signed (RFC 9421) with a key "
                "registered in the ledger"
            ) from exc
        # A key whose verified requests emptied its bucket is refused before any work;
        # only verified requests take tokens, so nobody can empty another's bucket.
        wait = self.limit.empty(keyid)
        if wait:
            raise self._too_many(keyid, wait)
        try:
            with self.store.read() as conn:
                reader, der, _algorithm = access.reader(conn, keyid)
        except AuthorizationError as exc:
            raise problems.from_error(exc) from exc
        try:
            verified = signing.verify_request(message, VerifyingKey.from_der(der), body)
        except InputError as exc:
            raise problems.unauthenticated(exc.message) from exc
        wait = self.limit.take(keyid)
        if wait:
            raise self._too_many(keyid, wait)
        self._remember(verified)
        return reader

    def _too_many(self, keyid: str, wait: float) -> problems.Problem:
        return problems.too_many(
            f"key {keyid[:16]} is over its rate of {self.limit.rate:g} requests a second",
            retry_after=max(1, round(wait + 0.5)),
        )

    def _remember(self, verified: signing.Verified) -> None:
        expires = dt.datetime.fromtimestamp(verified.created, dt.UTC) + dt.timedelta(
            seconds=signing.MAX_AGE + 10
        )
        try:
            with self.store.engine.begin() as conn:
                conn.execute(
                    insert(RequestNonceRow),
                    [{"nonce": verified.nonce, "keyid": verified.keyid, "expires_at": expires}],
                )
                self._accepted += 1
                if self._accepted % 500 == 1:
                    conn.execute(
                        delete(RequestNonceRow).where(RequestNonceRow.c.expires_at < utcnow())
                    )
        except DuplicateKey as exc:
            raise problems.unauthenticated(
                "this signed request was already received (replayed nonce)"
            ) from exc

"""RFC 9457 problem details (`application/problem+json`) for every refusal.

The HTTP status follows the class of the library's error, so that a client maps it back
to the CLI's exit code (the `exit_code` member says it outright):

| error (exit code) | status |
|---|---|
| `InputError` in the request itself: not JSON, not an envelope (2) | 400 |
| `InputError` about the statement: invalid payload, contradiction with the ledger (2) | 422 |
| unauthenticated: no or a bad request signature, a replayed one (3) | 401 |
| `SignatureError`, `AuthorizationError`: bad signature, unauthorised signer or reader (3) | 403 |
| `NotFoundError` (5) | 404 |
| body over the limit (2) | 413 |
| too slow a client (2) | 408 |
| too many requests from one key, or pushback (2) | 429 (with `Retry-After`) |
| `ConfigError`: the database is unreachable (2) | 503 (with `Retry-After`) |
| `IntegrityError`: the ledger itself does not check out (4) | 500 |
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.responses import Response

from provenance.errors import (
    AuthorizationError,
    ConfigError,
    InputError,
    IntegrityError,
    NotFoundError,
    ProvenanceError,
    SignatureError,
)

PROBLEM_BASE = "https://provenance.dev/problems/"
CONTENT_TYPE = "application/problem+json"


@dataclass(eq=False)
class Problem(Exception):
    """An HTTP refusal: status, a problem type slug, a title, the detail."""

    status: int
    slug: str
    title: str
    detail: str
    exit_code: int = 2
    retry_after: int | None = None
    hint: str | None = None

    def response(self) -> Response:
        body: dict[str, object] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "exit_code": self.exit_code,
        }
        if self.hint:
            body["hint"] = self.hint
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        if self.status == 401:
            headers["Accept-Signature"] = 'sig=("@method" "@path" "@query");tag="provenance"'
        return Response(
            json.dumps(body, ensure_ascii=False),
            status_code=self.status,
            media_type=CONTENT_TYPE,
            headers=headers,
        )


def from_error(error: ProvenanceError, *, in_request: bool = False) -> Problem:
    """The problem for a library error; `in_request` when the request itself is malformed."""
    detail, hint, code = error.message, error.hint, error.exit_code
    if isinstance(error, SignatureError | AuthorizationError):
        slug = "signature" if isinstance(error, SignatureError) else "unauthorised"
        return Problem(403, slug, "Forbidden", detail, code, hint=hint)
    if isinstance(error, NotFoundError):
        return Problem(404, "not-found", "Not found", detail, code, hint=hint)
    if isinstance(error, IntegrityError):
        return Problem(500, "integrity", "Ledger integrity failure", detail, code, hint=hint)
    if isinstance(error, ConfigError):
        return Problem(
            503, "unavailable", "Service unavailable", detail, code, retry_after=2, hint=hint
        )
    if isinstance(error, InputError) and in_request:
        return Problem(400, "bad-request", "Bad request", detail, code, hint=hint)
    return Problem(422, "invalid", "Unprocessable content", detail, code, hint=hint)


def unauthenticated(detail: str) -> Problem:
    return Problem(401, "unauthenticated", "Unauthenticated", detail, 3)


def too_large(limit: int) -> Problem:
    return Problem(413, "too-large", "Content too large", f"the body is over {limit} bytes", 2)


def too_slow(seconds: float) -> Problem:
    return Problem(408, "timeout", "Request timeout", f"the body took over {seconds:g} s", 2)


def too_many(detail: str, retry_after: int = 1) -> Problem:
    return Problem(429, "too-many", "Too many requests", detail, 2, retry_after=retry_after)

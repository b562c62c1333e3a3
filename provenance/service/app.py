"""The routes of `provenance serve`.

Public (no authentication), as C2SP tlog-tiles lays them out, and the proofs:

    GET  /checkpoint                         the signed note (max-age 2)
    GET  /tile/<L>/<N>[.p/<W>]               hashes (immutable)
    GET  /v1/ledger                          origin and verifier key
    GET  /v1/proofs/inclusion/<index>?size=  an inclusion proof, with the checkpoint at size
    GET  /v1/proofs/consistency?old=&new=    a consistency proof between two checkpoints
    GET  /healthz, /metrics

Signed by a registered key (RFC 9421; `requests`), under the read policy of
`ledger.access`:

    GET  /tile/entries/<N>[.p/<W>]           entry bundles (operator, auditors, regulators)
    GET  /v1/entries/<index>                 an entry and its receipt
    GET  /v1/entries?from=&limit=            entries in order (for mirrors), those readable
    GET  /v1/bundle?seq=&seq=                an offline bundle of entries it may read
    GET  /v1/chips/<serial>                  a chip's verified history (entries readable)
    GET  /v1/shipments/<id>                  a shipment (its parties, and full readers)
    GET  /v1/status                          whose the key is, and the open flags it reads

The write API, authenticated by the envelope's own signatures (a request signature is
optional and only counts toward the key's rate limit):

    POST /v1/entries                         a DSSE envelope -> 201 (200 if already there)

Every refusal is an RFC 9457 problem (`problems`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provenance.crypto.envelope import Envelope
from provenance.errors import AuthorizationError, InputError, NotFoundError, ProvenanceError
from provenance.ledger import access, checkpoint_keys, queries
from provenance.ledger import tiles as stored_tiles
from provenance.ledger.access import Reader
from provenance.ledger.log import Ledger
from provenance.ledger.tables import CheckpointRow
from provenance.offline.entries import Appended, Receipt, SignedCheckpoint
from provenance.remote import signing
from provenance.service import problems
from provenance.service.batching import Batcher, Outcome, Overloaded
from provenance.service.config import ServiceConfig
from provenance.service.cosigning import Cosigning
from provenance.service.custody import open_ledger
from provenance.service.metrics import Metrics
from provenance.service.problems import Problem
from provenance.service.publication import Publication
from provenance.service.requests import Authenticator, RateLimit
from provenance.tlog import tiles

IMMUTABLE = "public, max-age=31536000, immutable"
CHECKPOINT_CACHE = "public, max-age=2"
PAGE = 1000
"""Entries per page of /v1/entries."""
THREADS = 8
"""Threads for the synchronous routes (reads, signed-request checks)."""


class Service:
    """What the routes share: the ledger, the batcher, the authenticator, the metrics."""

    def __init__(self, config: ServiceConfig, ledger: Ledger) -> None:
        self.config = config
        self.ledger = ledger
        self.metrics = Metrics()
        self.publication = Publication()
        self.cosigning: Cosigning | None = None
        if config.witness_policy is not None:
            from provenance.tlog import policy

            self.cosigning = Cosigning(ledger, policy.load(config.witness_policy))
        self.auth = Authenticator(ledger.store, RateLimit(config.rate, config.burst))
        self.batcher = Batcher(
            ledger,
            max_batch=config.max_batch,
            max_wait=config.max_wait,
            max_outstanding=config.max_outstanding,
            determine=_determiner(config.operator_key),
            observe=self.metrics.observe_batch,
            committed=self._committed,
        )

    def _committed(self, ledger: Ledger, appended: Sequence[Appended]) -> None:
        if self.cosigning is not None:
            self.cosigning.nudge()

    # --- what is published -----------------------------------------------------------

    def published(self, size: int | None = None) -> SignedCheckpoint:
        """The checkpoint the service answers against: the latest (or the one at `size`),
        its note carrying the cosignatures. With a witness policy, the latest checkpoint
        its witnesses' quorum cosigned (503 before there is one); a size beyond it is
        not published yet (404)."""
        if self.cosigning is None:
            signed = self.ledger.checkpoint(size)
            return SignedCheckpoint(signed.checkpoint, self.publication.note(signed))
        latest = self.cosigning.published
        if latest is None:
            raise Problem(
                503,
                "unwitnessed",
                "Not witnessed yet",
                "no checkpoint has met the witness quorum yet",
                2,
                retry_after=2,
            )
        if size is None or size == latest.checkpoint.size:
            return latest
        if size > latest.checkpoint.size:
            raise problems.from_error(
                NotFoundError(f"tree size {size} is not published (witnessed) yet")
            )
        return self.cosigning.by_size.get(size) or self.ledger.checkpoint(size)

    def receipt(self, seq: int, size: int | None = None) -> Receipt:
        """A receipt of entry `seq` against the published checkpoint (or the one at size)."""
        signed = self.published(size)
        made = self.ledger.receipt(seq, signed.checkpoint.size)
        return Receipt(made.seq, made.leaf, made.proof, signed)

    # --- helpers -------------------------------------------------------------------------

    async def body(self, request: Request) -> bytes:
        """The request body, within the size limit and the time limit."""
        limit = self.config.max_body
        declared = request.headers.get("content-length")
        if declared is not None and (
            not declared.isascii() or not declared.isdigit() or int(declared) > limit
        ):
            raise problems.too_large(limit)
        chunks: list[bytes] = []
        received = 0

        async def read() -> None:
            nonlocal received
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise problems.too_large(limit)
                chunks.append(chunk)

        try:
            await asyncio.wait_for(read(), self.config.body_timeout)
        except TimeoutError as exc:
            raise problems.too_slow(self.config.body_timeout) from exc
        return b"".join(chunks)

    def reader(self, request: Request, body: bytes = b"") -> Reader:
        message = signing.Message(request.method, str(request.url), request.headers)
        who = self.auth.authenticate(message, body)
        request.scope.setdefault("state", {})["keyid"] = who.keyid
        return who


def _determiner(
    operator_key: str | None,
) -> Callable[[Ledger, Sequence[Appended]], dict[int, dict[str, Any]]] | None:
    """For each shipment just appended, the determination the rules record (signed with
    the operator key the service holds); None when it holds none."""
    if operator_key is None:
        return None
    from pathlib import Path

    from provenance.crypto import keys

    signer = keys.load_private(Path(operator_key))

    def determine(ledger: Ledger, appended: Sequence[Appended]) -> dict[int, dict[str, Any]]:
        from provenance.compliance.checks import Checker

        judged = ("shipment", "shipment-amendment")  # an amendment is judged at once too
        shipments = [a for a in appended if a.kind in judged and not a.duplicate]
        if not shipments:
            return {}
        predicates = [ledger.entry(a.seq).statement["predicate"] for a in shipments]
        ids = [p["shipment"]["id"] if "corrects" in p else p["id"] for p in predicates]
        checker = Checker.open(ledger)
        found = checker.determine(ids)
        described = checker.described(found, checker.record(found, [signer]))
        return {a.seq: d for a, d in zip(shipments, described, strict=True)}

    return determine


# --- public routes -------------------------------------------------------------------


def healthz(request: Request) -> Response:
    service: Service = request.app.state.service
    with service.ledger.store.read() as conn:
        size = stored_tiles.latest_size(conn)
    service.metrics.tree_size.set(size)
    data: dict[str, Any] = {"status": "ok", "origin": service.ledger.origin, "size": size}
    if service.cosigning is not None:
        published = service.cosigning.published
        data["witnessed_size"] = published.checkpoint.size if published is not None else None
        data["witnesses"] = dict(service.cosigning.last_attempt)
    return JSONResponse(data)


def metrics(request: Request) -> Response:
    service: Service = request.app.state.service
    return Response(service.metrics.render(), media_type=service.metrics.content_type)


def ledger_info(request: Request) -> Response:
    """The ledger's identity, its checkpoint keys, and each key announcement with its
    receipt under the first checkpoint that covers it (signed by the key it replaces,
    so a client pinned to that key can learn the new one)."""
    service: Service = request.app.state.service
    ledger = service.ledger
    with ledger.store.read() as conn:
        announced = checkpoint_keys.rotations(conn)
        covering = [
            conn.execute(
                select(func.min(CheckpointRow.c.size)).where(CheckpointRow.c.size > r.seq)
            ).scalar_one()
            for r in announced
        ]
    return JSONResponse(
        {
            "origin": ledger.origin,
            "verifier_key": ledger.verifier_key,
            "verifier_keys": ledger.verifier_keys,
            "rotations": [
                {
                    "seq": r.seq,
                    "verifier_key": r.verifier_key,
                    "replaces": r.replaces,
                    "overlap_until": r.overlap_until.isoformat(),
                    "receipt": ledger.receipt(r.seq, size).text(),
                }
                for r, size in zip(announced, covering, strict=True)
            ],
        }
    )


def checkpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    signed = service.published()
    service.metrics.tree_size.set(signed.checkpoint.size)
    return PlainTextResponse(
        signed.note,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": CHECKPOINT_CACHE},
    )


def tile(request: Request) -> Response:
    service: Service = request.app.state.service
    path = "tile/" + request.path_params["path"]
    try:
        wanted = tiles.parse_path(path)
    except InputError as exc:
        raise Problem(404, "not-found", "Not found", exc.message, 5) from exc
    if wanted.entries:
        who = service.reader(request)
        access.require_read_all(who, "an entry bundle")
    with service.ledger.store.read() as conn:
        data = stored_tiles.tile_bytes(conn, wanted)
    return Response(
        data, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE}
    )


def _int(request: Request, name: str, default: int | None = None) -> int:
    value = request.query_params.get(name)
    if value is None:
        if default is None:
            raise problems.from_error(InputError(f"the query needs {name}="), in_request=True)
        return default
    if not value.isascii() or not value.isdigit() or (value != "0" and value.startswith("0")):
        raise problems.from_error(
            InputError(f"{name} must be a decimal number, not {value[:20]!r}"), in_request=True
        )
    if len(value) > 19:
        raise problems.from_error(InputError(f"{name} is out of range"), in_request=True)
    return int(value)


def _b64(hashes: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def inclusion(request: Request) -> Response:
    service: Service = request.app.state.service
    index = _path_int(request, "index")
    signed = service.published(_int(request, "size") if "size" in request.query_params else None)
    size = signed.checkpoint.size
    if index >= size:
        raise problems.from_error(NotFoundError(f"entry {index} is not in the tree of size {size}"))
    proof = service.ledger.inclusion_proof(index, size)
    return JSONResponse(
        {
            "index": index,
            "size": size,
            "proof": _b64(proof),
            "checkpoint": signed.note,
        }
    )


def consistency(request: Request) -> Response:
    service: Service = request.app.state.service
    old, new = _int(request, "old"), _int(request, "new")
    if old > new:
        raise problems.from_error(
            InputError(f"old {old} is larger than new {new}"), in_request=True
        )
    signed = service.published(new)
    proof = service.ledger.consistency_proof(old, new) if old else []
    return JSONResponse({"old": old, "new": new, "proof": _b64(proof), "checkpoint": signed.note})


def _path_int(request: Request, name: str) -> int:
    value = str(request.path_params[name])
    if not value.isascii() or not value.isdigit() or (value != "0" and value.startswith("0")):
        raise Problem(404, "not-found", "Not found", f"{name} {value[:20]!r} is not a number", 5)
    if len(value) > 19:
        raise Problem(404, "not-found", "Not found", f"{name} is out of range", 5)
    return int(value)


# --- authenticated reads ---------------------------------------------------------------


def _entry_json(service: Service, seq: int, size: int) -> dict[str, Any]:
    receipt = service.receipt(seq, size)
    row = service.ledger.entry_row(seq)
    return {
        "seq": seq,
        "kind": row.kind,
        "signer": row.signer_party,
        "leaf": base64.b64encode(receipt.leaf).decode(),
        "receipt": receipt.text(),
    }


def entry(request: Request) -> Response:
    service: Service = request.app.state.service
    who = service.reader(request)
    seq = _path_int(request, "index")
    size = service.published().checkpoint.size
    if seq >= size:
        raise problems.from_error(NotFoundError(f"entry {seq} does not exist"))
    with service.ledger.store.read() as conn:
        if seq not in access.visible(conn, who, [seq]):
            raise problems.from_error(AuthorizationError(f"{who.party} may not read entry {seq}"))
    return JSONResponse(_entry_json(service, seq, size))


def entries(request: Request) -> Response:
    """Entries [from, from + limit) that the reader may read, as stored leaves, with the
    checkpoint they are in (a mirror rebuilds the tree from them)."""
    service: Service = request.app.state.service
    who = service.reader(request)
    start = _int(request, "from", 0)
    limit = min(_int(request, "limit", PAGE), PAGE)
    signed = service.published()
    size = signed.checkpoint.size
    end = min(size, start + limit)
    with service.ledger.store.read() as conn:
        readable = access.visible(conn, who, range(start, end)) if start < end else set()
        rows = stored_tiles.leaves(conn, start, end) if start < end else []
    return JSONResponse(
        {
            "checkpoint": signed.note,
            "size": size,
            "from": start,
            "complete": who.reads_all,
            "entries": [
                {"seq": seq, "leaf": base64.b64encode(leaf).decode()}
                for seq, leaf in rows
                if seq in readable
            ],
            "next": end if end < size else None,
        }
    )


def bundle(request: Request) -> Response:
    """An offline bundle (`ledger export`) of the entries asked for (`seq=`, repeated;
    none: every entry, for full readers), if the reader may read each of them."""
    service: Service = request.app.state.service
    who = service.reader(request)
    raw = request.query_params.getlist("seq")
    for value in raw:
        if not value.isascii() or not value.isdigit() or len(value) > 19:
            raise problems.from_error(
                InputError(f"seq {value[:20]!r} is not a number"), in_request=True
            )
    seqs = sorted({int(v) for v in raw})
    if not seqs:
        access.require_read_all(who, "a bundle of every entry")
    else:
        with service.ledger.store.read() as conn:
            hidden = set(seqs) - access.visible(conn, who, seqs)
        if hidden:
            raise problems.from_error(
                AuthorizationError(f"{who.party} may not read entry {min(hidden)}")
            )
    at = service.published() if service.cosigning is not None else None
    return JSONResponse(service.ledger.export(seqs or None, at))


def chip(request: Request) -> Response:
    service: Service = request.app.state.service
    who = service.reader(request)
    serial = request.path_params["serial"]
    data = queries.chip(service.ledger, serial)
    with service.ledger.store.read() as conn:
        readable = access.visible(conn, who, [h["seq"] for h in data["history"]])
    if not who.reads_all and not readable and data.get("manufacturer") != who.party:
        raise problems.from_error(AuthorizationError(f"{who.party} may not read chip {serial}"))
    size = data["tree_size"] if service.cosigning is None else service.published().checkpoint.size
    data["tree_size"] = size
    data["history"] = [
        {**h, "receipt": service.receipt(h["seq"], size).text()}
        for h in data["history"]
        if h["seq"] in readable and h["seq"] < size
    ]
    seen = queries.devices_seen(service.ledger, serial)
    data["observed"] = [d for d in seen if d["seq"] in readable]
    return JSONResponse(data)


def status(request: Request) -> Response:
    """Whose the request's key is (party and roles), and the open flags by severity whose
    raising entries that key may read (every open flag for a full reader)."""
    service: Service = request.app.state.service
    who = service.reader(request)
    with service.ledger.store.read() as conn:
        flags = queries.open_flags(conn, who)
    return JSONResponse(
        {"party": who.party, "roles": sorted(who.roles), "keyid": who.keyid, "open_flags": flags}
    )


def shipment(request: Request) -> Response:
    service: Service = request.app.state.service
    who = service.reader(request)
    shipment_id = request.path_params["shipment_id"]
    with service.ledger.store.read() as conn:
        allowed = access.may_read_shipment(conn, who, shipment_id)
    if not allowed:
        raise problems.from_error(
            AuthorizationError(f"{who.party} is not a party to shipment {shipment_id}")
        )
    data = queries.shipment(service.ledger, shipment_id)
    data["receipt"] = service.receipt(data["seq"]).text()
    if data["version_seq"] != data["seq"]:  # amended: the amendment in force, to check
        data["version_receipt"] = service.receipt(data["version_seq"]).text()
    if data["voided_seq"] is not None:
        data["void_receipt"] = service.receipt(data["voided_seq"]).text()
    return JSONResponse(data)


# --- writing -----------------------------------------------------------------------------


async def submit(request: Request) -> Response:
    service: Service = request.app.state.service
    body = await service.body(request)
    if "signature-input" in request.headers:
        await asyncio.to_thread(service.reader, request, body)
    try:
        envelope = Envelope.from_bytes(body)
    except ProvenanceError as exc:
        raise problems.from_error(exc, in_request=isinstance(exc, InputError)) from exc
    try:
        outcome = await service.batcher.submit(envelope)
    except Overloaded as exc:
        raise problems.too_many(f"the service is busy ({exc}): retry shortly") from exc
    except ProvenanceError as exc:
        raise problems.from_error(exc) from exc
    if service.cosigning is not None:
        outcome = await _witnessed(service, outcome)
    return JSONResponse(
        _outcome_json(service, outcome), status_code=200 if outcome.appended.duplicate else 201
    )


async def _witnessed(service: Service, outcome: Outcome) -> Outcome:
    """The outcome with its receipt against a witnessed checkpoint that covers the entry,
    once there is one; 503 (the entry is sequenced, not yet published) after the wait."""
    assert service.cosigning is not None
    seq = outcome.appended.seq
    published = await asyncio.to_thread(
        service.cosigning.wait_for, seq + 1, service.config.witness_wait
    )
    if published is None or published.checkpoint.size <= seq:
        raise Problem(
            503,
            "unwitnessed",
            "Not witnessed yet",
            f"entry {seq} is sequenced but no checkpoint covering it has met the witness "
            "quorum yet; send the same envelope again to get its receipt",
            2,
            retry_after=2,
        )
    receipt = await asyncio.to_thread(service.receipt, seq, published.checkpoint.size)
    return Outcome(outcome.appended, receipt, outcome.determination)


def _outcome_json(service: Service, outcome: Outcome) -> dict[str, Any]:
    a = outcome.appended
    if a.duplicate:
        service.metrics.duplicates.inc()
    else:
        service.metrics.appends.inc()
    data: dict[str, Any] = {
        "entry": {
            "seq": a.seq,
            "kind": a.kind,
            "signer": a.signer,
            "envelope_digest": a.envelope_digest,
            "duplicate": a.duplicate,
        },
        "receipt": outcome.receipt.text(),
        "checkpoint": outcome.receipt.checkpoint.note,
    }
    if outcome.determination is not None:
        data["determination"] = outcome.determination
    return data


# --- the application -------------------------------------------------------------------


class Guard:
    """Times requests and writes the JSON access log (a line a request)."""

    def __init__(self, app: ASGIApp, log: IO[str] | None) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500, "bytes": 0}

        async def tracking(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            elif message["type"] == "http.response.body":
                status["bytes"] += len(message.get("body", b""))
            await send(message)

        with contextlib.suppress(Exception):  # already answered 500 by the error handler
            await self.app(scope, receive, tracking)
        state = scope.get("state") or {}
        app = scope.get("app")
        service: Service | None = getattr(app.state, "service", None) if app else None
        elapsed = time.perf_counter() - started
        if service is not None:
            service.metrics.latency(_route_name(scope.get("path", "")), elapsed)
            if state.get("problem"):
                service.metrics.refused(state["problem"])
        if self.log is not None:
            record = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "client": (scope.get("client") or ["", 0])[0],
                "method": scope.get("method"),
                "path": scope.get("path"),
                "query": scope.get("query_string", b"").decode("latin-1")[:200] or None,
                "status": status["code"],
                "bytes": status["bytes"],
                "ms": round(elapsed * 1000, 2),
                "keyid": state.get("keyid"),
                "problem": state.get("problem"),
            }
            self.log.write(json.dumps(record) + "\n")
            self.log.flush()


def _route_name(path: str) -> str:
    for prefix in (
        "/tile/entries",
        "/tile",
        "/v1/entries",
        "/v1/proofs",
        "/v1/chips",
        "/v1/shipments",
    ):
        if path.startswith(prefix):
            return prefix
    return path if path in {"/checkpoint", "/healthz", "/metrics", "/v1/ledger"} else "other"


def _problem_of(exc: Exception) -> Problem:
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, ProvenanceError):
        return problems.from_error(exc)
    if isinstance(exc, DBAPIError):
        return Problem(
            503,
            "unavailable",
            "Service unavailable",
            "the database is unreachable",
            2,
            retry_after=2,
        )
    return Problem(500, "internal", "Internal server error", f"{type(exc).__name__}", 70)


async def _handle(request: Request, exc: Exception) -> Response:
    """Every error as a problem: 404 and 405 of the router, the library's errors, a
    database that went away (503), and anything else (500, never a traceback)."""
    from starlette.exceptions import HTTPException

    if isinstance(exc, HTTPException):
        if exc.status_code == 405:
            problem = Problem(
                405, "method", "Method not allowed", f"{request.method} not allowed", 2
            )
        else:
            problem = Problem(
                exc.status_code, "not-found", "Not found", f"no resource at {request.url.path}", 5
            )
    else:
        problem = _problem_of(exc)
    request.scope.setdefault("state", {})["problem"] = problem.slug
    return problem.response()


def create_app(config: ServiceConfig, *, log: IO[str] | None = None) -> ASGIApp:
    """The ASGI application: opens the ledger with the service's checkpoint key on start
    up, finishes the batch in flight on shut down."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import anyio.to_thread

        # Synchronous routes run in threads; a few are enough for the database and the
        # signatures, and fewer threads leave the event loop the GIL to serve others.
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        ledger = open_ledger(config)
        service = Service(config, ledger)
        app.state.service = service
        service.batcher.start()
        if service.cosigning is not None:
            service.cosigning.start()
        try:
            yield
        finally:
            await service.batcher.close()
            if service.cosigning is not None:
                service.cosigning.close()
            ledger.close()

    routes = [
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        Route("/checkpoint", checkpoint),
        Route("/tile/{path:path}", tile),
        Route("/v1/ledger", ledger_info),
        Route("/v1/proofs/inclusion/{index}", inclusion),
        Route("/v1/proofs/consistency", consistency),
        Route("/v1/entries", submit, methods=["POST"]),
        Route("/v1/entries", entries, methods=["GET"]),
        Route("/v1/entries/{index}", entry),
        Route("/v1/bundle", bundle),
        Route("/v1/chips/{serial}", chip),
        Route("/v1/shipments/{shipment_id}", shipment),
        Route("/v1/status", status),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            404: _handle,
            405: _handle,
            Problem: _handle,
            ProvenanceError: _handle,
            DBAPIError: _handle,
            Exception: _handle,
        },
    )
    access_log = log if log is not None else (sys.stderr if config.access_log == "-" else None)
    if config.access_log and config.access_log != "-" and log is None:
        access_log = open(config.access_log, "a", encoding="utf-8")  # noqa: SIM115 - lives with the app
    return Guard(app, access_log)

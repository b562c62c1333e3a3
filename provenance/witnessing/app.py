"""The witness's routes (C2SP tlog-witness v1.0.0):

    POST /add-checkpoint             old size, proof, empty line, checkpoint -> cosignature
    GET  /<sha256(origin) hex>/checkpoint   the latest cosigned checkpoint (monitoring)
    GET  /healthz

The add-checkpoint work is synchronous (a database round trip and a signature) and runs
in a thread; its answer is sent only after the new state is committed.
"""

from __future__ import annotations

import hashlib
import re

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from provenance.tlog import witness as protocol
from provenance.witnessing.witness import Witness

ORIGIN_HASH = re.compile(r"^[0-9a-f]{64}$")


def create_app(witness: Witness) -> Starlette:
    hashed = {hashlib.sha256(origin.encode()).hexdigest(): origin for origin in witness.logs}

    async def add_checkpoint(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > protocol.MAX_BODY:
                return PlainTextResponse("request body too large\n", status_code=413)
        answer = await run_in_threadpool(witness.add_checkpoint, body)
        # Exactly this content type (Starlette would add a charset to a text/ media type).
        headers = {"Content-Type": answer.content_type}
        return Response(answer.body, status_code=answer.status, headers=headers)

    def checkpoint(request: Request) -> Response:
        digest = request.path_params["digest"]
        origin = hashed.get(digest) if ORIGIN_HASH.match(digest) else None
        found = witness.checkpoint(origin) if origin is not None else None
        if found is None:
            return PlainTextResponse("no checkpoint cosigned for that log\n", status_code=404)
        return PlainTextResponse(found, headers={"Cache-Control": "no-cache"})

    def healthz(request: Request) -> Response:
        return PlainTextResponse(f"ok {witness.cosigner.name}\n")

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/{digest}/checkpoint", checkpoint),
        ]
    )

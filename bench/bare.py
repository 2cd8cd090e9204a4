"""The raw cost of the HTTP stack: a bare Starlette+orjson endpoint returning a fixed document.

Served with the uvicorn settings of `cityos serve` (cityos.cli._run), so the ratio of the
single-entity GET to this endpoint is what cityos itself costs on top of the server stack.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def make_app(doc: object) -> Starlette:
    async def entity(request: Request) -> Response:
        _ = request.path_params["entityId"]
        return Response(orjson.dumps(doc), media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(routes=[Route("/ngsi-ld/v1/entities/{entityId}", entity),
                             Route("/healthz", healthz)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--doc", type=Path, required=True, help="JSON document to return")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = make_app(orjson.loads(args.doc.read_bytes()))
    # the same settings as cityos.cli._run
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                loop="auto", http="auto", limit_concurrency=None, timeout_keep_alive=30)


if __name__ == "__main__":
    main()

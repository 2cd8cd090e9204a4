"""The trust part's one hook into the write path: every NGSI-LD / NGSI v2 write passes here
after the gate. Writes are refused (503) while time-stamping is down (fail closed).
"""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.errors import NgsiError
from cityos.operations import Operation

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DATA_PREFIXES = ("/ngsi-ld/v1/", "/v2/")


class WritesSuspended(NgsiError):
    """Time-stamping has been down too long: writes wait until it is back (fail closed)."""

    title = "ServiceUnavailable"
    status = 503


def is_data_write(op: Operation) -> bool:
    return (op.method in _WRITE_METHODS and op.path.startswith(_DATA_PREFIXES)
            and not op.path.endswith("/query"))  # POST …/entityOperations/query reads


def with_trust(op: Operation) -> Operation:
    """`op` with its endpoint behind the trust checks (other operations are returned as is)."""
    if not is_data_write(op):
        return op
    endpoint = op.endpoint

    async def trusted(request: Request) -> Response:
        if not await request.app.state.trust.stamper.check():
            raise WritesSuspended("time-stamping is unavailable, so writes are suspended; "
                                  "retry later / タイムスタンプを取得できないため書き込みを停止中です",
                                  extra={"retryAfter": 60})
        return await endpoint(request)

    trusted.__name__ = endpoint.__name__
    return dataclasses.replace(op, endpoint=trusted)

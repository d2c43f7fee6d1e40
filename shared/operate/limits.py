"""The scoring service's request limits: a body over the limit gets 413 before it is parsed,
and validation errors come back JSON-safe, naming the field."""

import math
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse


def body_limit(max_body: int) -> Callable[[Any], Any]:
    """Pure ASGI middleware: a body over ``max_body`` bytes gets 413 before it is parsed.

    Refused from Content-Length at once, or (chunked uploads) as soon as the bytes read
    pass the limit; at most ``max_body`` bytes are ever held.
    """

    too_big = JSONResponse(  # made once, sent as often as needed (not built per request)
        {
            "detail": f"request body over {max_body:,} bytes "
            "(service.max_body_bytes): send fewer rows per request"
        },
        status_code=413,
        headers={"connection": "close"},
    )

    def wrap(app: Any) -> Any:
        async def middleware(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
                return await app(scope, receive, send)
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > max_body):
                return await too_big(scope, receive, send)
            chunks, size, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                body = message.get("body", b"")
                size += len(body)
                if size > max_body:
                    return await too_big(scope, receive, send)
                chunks.append(body)
                more = message.get("more_body", False)
            replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

            async def replayed() -> dict[str, Any]:
                return replay.pop() if replay else await receive()

            return await app(scope, replayed, send)

        return middleware

    return wrap


def safe_errors(errors: Any) -> list[dict[str, Any]]:
    """Validation errors as JSON-safe dicts naming the field (no echo of NaN or Infinity)."""
    out = []
    for err in errors:
        item = {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type")}
        value = err.get("input")
        if isinstance(value, str | int | bool) or value is None:
            item["input"] = value
        elif isinstance(value, float) and math.isfinite(value):
            item["input"] = value
        out.append(item)
    return out

"""JSON responses encoded with orjson (Starlette's JSONResponse uses the much slower stdlib)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body), status_code=status_code, headers=headers, media_type="application/json"
    )


def error_response(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    return json_response({"error": message}, status_code, headers)

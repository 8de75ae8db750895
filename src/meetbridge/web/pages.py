"""Server-rendered pages (Jinja2, autoescaped)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

_environment = Environment(
    loader=PackageLoader("meetbridge.web", "templates"),
    autoescape=select_autoescape(["html"]),
    enable_async=False,
)
_environment.filters["utc"] = lambda ts: datetime.fromtimestamp(float(ts), tz=UTC).strftime(
    "%Y-%m-%d %H:%M"
)

# Pages may show secrets (a PIN inside a link); never cache them, never leak them in Referer.
NO_STORE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def render(
    template: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    html = _environment.get_template(template).render(**context)
    merged = {**NO_STORE, **(headers or {})}
    # An empty value drops a default header (the meeting page may be framed by Mattermost).
    return HTMLResponse(
        html, status_code=status_code, headers={k: v for k, v in merged.items() if v}
    )


def message_page(
    title: str, message: str, status_code: int, retry_url: str | None = None
) -> HTMLResponse:
    return render("message.html", status_code, title=title, message=message, retry_url=retry_url)

"""``/guest/{token}``: an external guest's way into a channel's Pexip meeting.

GET shows a form for the guest's name; POST (the form) renders the meeting page as a guest.
The link carries no PIN: the guest PIN is in the page meetbridge renders for the POST, which is
never cached and never sent as a Referer. Every refusal is a page that says why.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from meetbridge.engines.pexip.guest_links import GuestLinkRefusedError, GuestLinks
from meetbridge.web.join import MEETING_ASSETS
from meetbridge.web.pages import message_page, render

MAX_FORM = 4096


class GuestEndpoints:
    def __init__(self, links: GuestLinks) -> None:
        self._links = links

    def routes(self) -> list[Route]:
        return [Route("/guest/{token}", self.guest, methods=["GET", "POST"])]

    async def guest(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            if request.method == "GET":
                _, channel = await self._links.check(token)
                return self._form(request, channel.title, "", "")
            typed = _form_field(await request.body(), "name")
            try:
                target = await self._links.target(token, typed)
            except GuestLinkRefusedError as refused:
                if refused.status != 400:
                    raise
                _, channel = await self._links.check(token)
                return self._form(request, channel.title, typed or "", str(refused), 400)
        except GuestLinkRefusedError as refused:
            return message_page("Cannot join", str(refused), refused.status)
        return render(
            "meeting.html",
            config=dict(target.page_config),
            asset_base=MEETING_ASSETS,
            channel_title=target.channel.title,
            display_name=target.display_name,
            webapp3="",
        )

    def _form(
        self, request: Request, title: str, name: str, error: str, status: int = 200
    ) -> Response:
        return render(
            "guest.html",
            status,
            channel_title=title,
            name=name[:64],
            error=error,
            action=request.scope["path"],
        )


def _form_field(body: bytes, field: str) -> str | None:
    """One field of a URL-encoded form; None when absent or unreadable (an attack or a bug)."""
    if len(body) > MAX_FORM:
        return None
    try:
        values = parse_qs(body.decode("ascii"), keep_blank_values=True, max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        return None
    found = values.get(field)
    return found[0] if found else None

"""Join links (personal, short-lived) and the channel's stable meeting link.

``/join/{token}`` leads a user to the meeting: with the embedded experience off, a redirect to
the Pexip web app with their name and the PIN (the PIN appears only here, in the user's own
browser, never in Mattermost); with it on, meetbridge's meeting page.

``/meet/{channel_id}`` is the lasting link ``/meet link`` gives out: it asks Mattermost who the
visitor is (OAuth), checks they belong to the channel, and then issues a personal join link.
"""

from __future__ import annotations

import secrets

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from meetbridge.chat.mattermost.oauth import MattermostOAuth, OAuthCodeRefusedError, OAuthError
from meetbridge.clock import Clock
from meetbridge.domain.ids import ChannelId, is_mattermost_id
from meetbridge.domain.tokens import TokenCodec, TokenError
from meetbridge.services.join import JoinRefusedError, JoinService, JoinTarget, Refusal
from meetbridge.web.pages import NO_STORE, message_page, render

log = structlog.get_logger(__name__)

STATE_PURPOSE = "oauth-state"
STATE_COOKIE = "meetbridge_oauth"
STATE_LIFETIME = 10 * 60.0

_STATUS = {
    Refusal.UNAVAILABLE: 503,
    Refusal.NOT_CONFIGURED: 503,
}


class JoinEndpoints:
    def __init__(
        self,
        join: JoinService,
        oauth: MattermostOAuth | None,
        links: TokenCodec,
        clock: Clock,
        secure_cookies: bool,
        frame_ancestors: str = "",
    ) -> None:
        self._frame_ancestors = frame_ancestors
        self._join = join
        self._oauth = oauth
        self._links = links
        self._clock = clock
        self._secure = secure_cookies

    def routes(self) -> list[Route]:
        return [
            Route("/join/{token}", self.join, methods=["GET"]),
            Route("/meet/{channel_id}", self.stable_link, methods=["GET"]),
            Route("/oauth/mattermost/callback", self.oauth_callback, methods=["GET"]),
        ]

    async def join(self, request: Request) -> Response:
        try:
            target = await self._join.open(request.path_params["token"])
        except JoinRefusedError as refused:
            return _refused(refused)
        if not target.embedded:
            return RedirectResponse(target.webapp3, status_code=302, headers=NO_STORE)
        return render(
            "meeting.html",
            headers={
                # A companion plugin may show the meeting inside Mattermost: only it may frame it.
                "X-Frame-Options": "",
                "Content-Security-Policy": f"frame-ancestors 'self' {self._frame_ancestors}",
            },
            config=meeting_page_config(target),
            asset_base=MEETING_ASSETS,
            channel_title=target.channel.title,
            display_name=target.display_name,
            webapp3=target.webapp3,
        )

    async def stable_link(self, request: Request) -> Response:
        channel_id = request.path_params["channel_id"].lower()
        if not is_mattermost_id(channel_id):
            return message_page("Not a meeting link", "This is not a channel's meeting link.", 404)
        nonce = secrets.token_urlsafe(16)
        state = self._links.encode(
            STATE_PURPOSE, {"c": channel_id, "n": nonce}, self._clock.now(), STATE_LIFETIME
        )
        url = None if self._oauth is None else await self._oauth.authorize_url(state)
        if url is None:
            return message_page(
                "Sign-in is not available",
                "Signing in with Mattermost is not set up on this meetbridge: use /meet join "
                "in the channel instead.",
                503,
            )
        response = RedirectResponse(url, status_code=302, headers=NO_STORE)
        response.set_cookie(
            STATE_COOKIE,
            nonce,
            max_age=int(STATE_LIFETIME),
            httponly=True,
            samesite="lax",
            secure=self._secure,
            path="/oauth/mattermost",
        )
        return response

    async def oauth_callback(self, request: Request) -> Response:
        try:
            state = self._links.decode(
                request.query_params.get("state", ""), STATE_PURPOSE, self._clock.now()
            )
        except TokenError:
            return message_page(
                "Sign-in failed", "This sign-in link is not valid or has expired.", 400
            )
        cookie = request.cookies.get(STATE_COOKIE, "")
        if not cookie or not secrets.compare_digest(cookie, str(state.get("n", ""))):
            return message_page(
                "Sign-in failed",
                "This sign-in did not start in this browser. Open the meeting link again.",
                400,
                retry_url=f"/meet/{state.get('c', '')}",
            )
        if self._oauth is None or not request.query_params.get("code"):
            return message_page("Sign-in failed", "Mattermost did not complete the sign-in.", 400)
        channel_id = ChannelId(str(state["c"]))
        try:
            user_id = await self._oauth.user_for_code(request.query_params["code"])
            url = await self._join.issue(channel_id, user_id)
        except OAuthError as exc:
            # A code Mattermost refused is the browser's bad request; anything else is upstream.
            status = 400 if isinstance(exc, OAuthCodeRefusedError) else 502
            return message_page("Sign-in failed", str(exc), status, retry_url=f"/meet/{channel_id}")
        except JoinRefusedError as refused:
            return _refused(refused)
        response = RedirectResponse(url, status_code=302, headers=NO_STORE)
        response.delete_cookie(STATE_COOKIE, path="/oauth/mattermost")
        return response


MEETING_ASSETS = "/static/meeting"


def meeting_page_config(target: JoinTarget) -> dict[str, object]:
    """What the meeting page needs to connect; everything comes from the signed join link."""
    return {
        "host": f"https://{target.node}",
        "node": target.node,
        "alias": target.alias,
        "displayName": target.display_name,
        "pin": target.pin,
        "callTag": target.call_tag,
        "startMuted": target.start_muted,
        "channelTitle": target.channel.title,
        "conversation": target.channel.is_conversation,
        "directMedia": target.direct_media,
        "webapp3Url": target.webapp3,
    }


def _refused(refused: JoinRefusedError) -> Response:
    return message_page(
        "Cannot join this meeting", refused.detail, _STATUS.get(refused.refusal, 403)
    )

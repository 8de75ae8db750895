"""Join links (personal, short-lived) and the channel's stable meeting link.

``/join/{token}`` leads a user to the meeting, where the channel's engine says: the engine's own
web app (Pexip with the embedded experience off: a redirect with their name and the PIN, which
appears only here, in the user's own browser, never in Mattermost), or meetbridge's meeting page
with the engine's client configuration. It opens only in a browser
that Mattermost has confirmed to be the link's user (web/identity.py); any other browser is
sent through Mattermost's sign-in first and refused if it is someone else.

``/meet/{channel_id}`` is the lasting link ``/meet link`` gives out: it asks Mattermost who the
visitor is (OAuth), checks they belong to the channel, and then issues a personal join link.
"""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from meetbridge.chat.mattermost.oauth import MattermostOAuth, OAuthCodeRefusedError, OAuthError
from meetbridge.domain.ids import ChannelId, UserId, is_mattermost_id
from meetbridge.services.join import JoinRefusedError, JoinService, Refusal
from meetbridge.web.identity import JOIN_PATH, OTHER_USER, Flow, IdentityGate
from meetbridge.web.pages import NO_STORE, message_page, render

log = structlog.get_logger(__name__)

_STATUS = {
    Refusal.UNAVAILABLE: 503,
    Refusal.NOT_CONFIGURED: 503,
}


class JoinEndpoints:
    def __init__(
        self,
        join: JoinService,
        oauth: MattermostOAuth | None,
        identity: IdentityGate,
        frame_ancestors: str = "",
    ) -> None:
        self._frame_ancestors = frame_ancestors
        self._join = join
        self._oauth = oauth
        self._identity = identity

    def routes(self) -> list[Route]:
        return [
            Route("/join/{token}", self.join, methods=["GET"]),
            Route("/meet/{channel_id}", self.stable_link, methods=["GET"]),
            Route("/oauth/mattermost/callback", self.oauth_callback, methods=["GET"]),
        ]

    async def join(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            user_id = self._join.link_user(token)
        except JoinRefusedError as refused:
            return _refused(refused)
        unproven = await self._identity.require(request, user_id, JOIN_PATH)
        if unproven is not None:
            return unproven
        try:
            target = await self._join.open(token)
        except JoinRefusedError as refused:
            return _refused(refused)
        if not target.embedded:
            return RedirectResponse(target.external_url, status_code=302, headers=NO_STORE)
        return render(
            "meeting.html",
            headers={
                # A companion plugin may show the meeting inside Mattermost: only it may frame it.
                "X-Frame-Options": "",
                "Content-Security-Policy": f"frame-ancestors 'self' {self._frame_ancestors}",
            },
            config=dict(target.page_config),
            asset_base=MEETING_ASSETS,
            channel_title=target.channel.title,
            display_name=target.display_name,
            webapp3=target.external_url,
        )

    async def stable_link(self, request: Request) -> Response:
        channel_id = request.path_params["channel_id"].lower()
        if not is_mattermost_id(channel_id):
            return message_page("Not a meeting link", "This is not a channel's meeting link.", 404)
        return await self._identity.sign_in(Flow(""), {"c": channel_id})

    async def oauth_callback(self, request: Request) -> Response:
        state = self._identity.read_state(request)
        if state is None:
            return message_page(
                "Sign-in failed", "This sign-in link is not valid or has expired.", 400
            )
        channel = str(state.get("c", ""))
        retry = f"/meet/{channel}" if is_mattermost_id(channel) else None
        flow = self._identity.flow_of(request, state)
        if flow is None:
            return message_page(
                "Sign-in failed",
                "This sign-in did not start in this browser. Open the link again.",
                400,
                retry_url=retry,
            )
        if self._oauth is None or not request.query_params.get("code"):
            return message_page("Sign-in failed", "Mattermost did not complete the sign-in.", 400)
        try:
            user_id = await self._oauth.user_for_code(request.query_params["code"])
            if flow.return_to:
                response = self._back_to_link(flow, user_id)
            else:
                response = await self._to_meeting(ChannelId(channel), user_id)
        except OAuthError as exc:
            # A code Mattermost refused is the browser's bad request; anything else is upstream.
            status = 400 if isinstance(exc, OAuthCodeRefusedError) else 502
            return message_page("Sign-in failed", str(exc), status, retry_url=retry)
        except JoinRefusedError as refused:
            return _refused(refused)
        self._identity.end_flow(response, flow)
        return response

    def _back_to_link(self, flow: Flow, user_id: UserId) -> Response:
        local = flow.return_to.startswith("/") and not flow.return_to.startswith("//")
        if user_id != flow.expected_user or not local:
            log.warning("identity.other_user", link_user=flow.expected_user, signed_in=user_id)
            return message_page("This link is not yours", OTHER_USER, 403)
        response = RedirectResponse(flow.return_to, status_code=302, headers=NO_STORE)
        self._identity.set_identity(response, user_id, flow.cookie_path)
        return response

    async def _to_meeting(self, channel_id: ChannelId, user_id: UserId) -> Response:
        if not is_mattermost_id(channel_id):
            return message_page("Sign-in failed", "This sign-in link is not valid.", 400)
        url = await self._join.issue(channel_id, user_id)
        response = RedirectResponse(url, status_code=302, headers=NO_STORE)
        # Mattermost has just said who this is: the personal link opens without asking again.
        self._identity.set_identity(response, user_id, JOIN_PATH)
        return response


MEETING_ASSETS = "/static/meeting"


def _refused(refused: JoinRefusedError) -> Response:
    return message_page(
        "Cannot join this meeting", refused.detail, _STATUS.get(refused.refusal, 403)
    )

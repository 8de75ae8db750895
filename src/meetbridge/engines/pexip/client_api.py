"""meetbridge as a control-only chair of a channel's conference, through Infinity's client REST
API v2 (docs.pexip.com/api_client/api_rest.htm; reference/pexip.md §5).

To act on a meeting (hand host over, mute, remove, lock, end) meetbridge needs a chair's token
for the conference: it asks ``request_token`` with the channel's host PIN (header ``pin``), its
own call tag (so that its policy answer recognises it) and no media, keeps the token per
conference, renews it with ``refresh_token`` once half its lifetime (``expires``, seconds, a
string) has passed, and asks again when the node says the token is no
longer valid. Nothing refreshes it in the background: an unused token lapses on its own after
``expires`` (typically 120 s), and ``release`` gives it back when the meeting ends. A
control-only chair does not keep a meeting alive (docs.pexip.com/admin/automatically_terminate.htm)
and has no media, so meetbridge's rosters, which count legs with media, never show it.

Unconfirmed (reference/pexip.md tags these [sdk]/[rep]): the exact status a node answers a stale
token with. Any 401/403 is treated as "ask for a new token and try once more"; what the node
answers the second time is final.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2
import orjson
import structlog

from meetbridge.clock import Clock

log = structlog.get_logger(__name__)

API_PREFIX = "/api/client/v2/conferences"
DISPLAY_NAME = "meetbridge"
DEFAULT_EXPIRES = 120.0
MIN_EXPIRES = 10.0


class ClientApiError(Exception):
    """The node refused the request (or could not be reached: ``status`` 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class _Session:
    pin: str
    token: str
    participant_uuid: str
    renew_at: float


class InfinityClientApi:
    """Chair sessions on conferences, one per (node, alias), and requests made with them."""

    def __init__(self, http: httpx2.AsyncClient, clock: Clock) -> None:
        self._http = http
        self._clock = clock
        self._sessions: dict[tuple[str, str], _Session] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def close(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        node: str,
        alias: str,
        pin: str,
        endpoint: str,
        body: Mapping[str, Any] | None = None,
        method: str = "POST",
        call_tag: str = "",
    ) -> Any:
        """``endpoint`` (e.g. ``participants/<uuid>/mute``) as chair; the result of the answer.

        Raises ClientApiError when the node refuses or cannot be reached."""
        key = (node, alias)
        session = await self._session(key, pin, call_tag)
        status, answer = await self._send(node, alias, endpoint, session.token, body, method)
        if status in (401, 403):  # a token the node no longer knows: once more with a new one
            self._sessions.pop(key, None)
            session = await self._session(key, pin, call_tag)
            status, answer = await self._send(node, alias, endpoint, session.token, body, method)
        if not 200 <= status < 300:
            raise ClientApiError(status, _message(answer, status))
        return answer.get("result") if isinstance(answer, dict) else None

    async def release(self, node: str, alias: str) -> None:
        """Give the chair token back (the meeting ended); forgetting it is enough on failure."""
        session = self._sessions.pop((node, alias), None)
        if session is None:
            return
        try:
            await self._send(node, alias, "release_token", session.token, None, "POST")
        except ClientApiError as exc:
            log.info("pexip.release_token_failed", alias=alias, error=str(exc))

    async def keep_alive(self, node: str, alias: str, pin: str, call_tag: str = "") -> float:
        """Renew the chair token if due (for a long-lived event stream); seconds to the next
        renewal."""
        session = await self._session((node, alias), pin, call_tag)
        return max(1.0, session.renew_at - self._clock.now())

    async def events(
        self, node: str, alias: str, pin: str, call_tag: str = ""
    ) -> AsyncIterator[tuple[str, Any]]:
        """The conference's server-sent events as chair, (event name, parsed data), until the
        node closes the stream; raises ClientApiError when it cannot be opened or breaks."""
        session = await self._session((node, alias), pin, call_tag)
        url = _url(node, alias, "events")
        timeout = httpx2.Timeout(5.0, read=None)  # a quiet meeting sends nothing for a while
        try:
            async with self._http.stream(
                "GET", url, headers={"token": session.token}, timeout=timeout
            ) as response:
                if response.status_code != 200:
                    raise ClientApiError(response.status_code, "the event stream was refused")
                async for event, data in _server_sent_events(response.aiter_lines()):
                    yield event, data
        except httpx2.HTTPError as exc:
            raise ClientApiError(0, f"the event stream broke: {exc!r}") from exc

    def participant_of(self, node: str, alias: str) -> str:
        """meetbridge's own participant uuid in the conference ('' without a session)."""
        session = self._sessions.get((node, alias))
        return session.participant_uuid if session is not None else ""

    def has_session(self, node: str, alias: str) -> bool:
        return (node, alias) in self._sessions

    async def _session(self, key: tuple[str, str], pin: str, call_tag: str) -> _Session:
        async with self._locks.setdefault(key, asyncio.Lock()):
            session = self._sessions.get(key)
            if session is not None and session.pin != pin:
                session = None  # the PINs were replaced: a new meeting
            if session is not None and self._clock.now() >= session.renew_at:
                session = await self._refresh(key, session)
            if session is None:
                session = await self._request_token(key, pin, call_tag)
            self._sessions[key] = session
            return session

    async def _request_token(self, key: tuple[str, str], pin: str, call_tag: str) -> _Session:
        node, alias = key
        url = _url(node, alias, "request_token")
        body = {"display_name": DISPLAY_NAME, "direct_media": False, "call_tag": call_tag}
        try:
            response = await self._http.post(
                url,
                content=orjson.dumps(body),
                headers={"pin": pin, "content-type": "application/json"},
            )
        except httpx2.HTTPError as exc:
            raise ClientApiError(0, f"the Conferencing Node cannot be reached: {exc!r}") from exc
        answer = _json(response)
        result = answer.get("result") if isinstance(answer, dict) else None
        if response.status_code != 200 or not isinstance(result, dict):
            raise ClientApiError(response.status_code, _message(answer, response.status_code))
        token = result.get("token")
        if not isinstance(token, str) or not token:
            raise ClientApiError(502, "the node's token answer has no token")
        return _Session(pin, token, str(result.get("participant_uuid", "")), self._renew_at(result))

    async def _refresh(self, key: tuple[str, str], session: _Session) -> _Session | None:
        node, alias = key
        status, answer = await self._send(node, alias, "refresh_token", session.token, None, "POST")
        result = answer.get("result") if isinstance(answer, dict) else None
        token = result.get("token") if isinstance(result, dict) else None
        if status != 200 or not isinstance(token, str) or not token:
            return None  # ask for a new one
        assert isinstance(result, dict)
        return _Session(session.pin, token, session.participant_uuid, self._renew_at(result))

    def _renew_at(self, result: Mapping[str, Any]) -> float:
        try:
            expires = float(result.get("expires", DEFAULT_EXPIRES))
        except (TypeError, ValueError):
            expires = DEFAULT_EXPIRES
        return self._clock.now() + max(MIN_EXPIRES, expires) / 2

    async def _send(
        self,
        node: str,
        alias: str,
        endpoint: str,
        token: str,
        body: Mapping[str, Any] | None,
        method: str,
    ) -> tuple[int, Any]:
        headers = {"token": token}
        content = None
        if body is not None:
            content = orjson.dumps(dict(body))
            headers["content-type"] = "application/json"
        try:
            response = await self._http.request(
                method, _url(node, alias, endpoint), content=content, headers=headers
            )
        except httpx2.HTTPError as exc:
            raise ClientApiError(0, f"the Conferencing Node cannot be reached: {exc!r}") from exc
        return response.status_code, _json(response)


async def _server_sent_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, Any]]:
    """``event:``/``data:`` blocks separated by blank lines; comments and bad JSON skipped."""
    event, data = "", list[str]()
    async for line in lines:
        if not line:
            parsed = _json_text("\n".join(data)) if event and data else None
            if parsed is not None:
                yield event, parsed
            event, data = "", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def _json_text(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _url(node: str, alias: str, endpoint: str) -> str:
    return f"https://{node}{API_PREFIX}/{quote(alias, safe='')}/{endpoint}"


def _json(response: httpx2.Response) -> Any:
    try:
        return orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return None


def _message(answer: Any, status: int) -> str:
    result = answer.get("result") if isinstance(answer, dict) else None
    if isinstance(result, str) and result:
        return result[:300]
    return f"the Conferencing Node answered HTTP {status}"

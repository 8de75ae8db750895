"""A simulated Pexip Conferencing Node for the meeting page's browser tests.

It speaks just enough of the client REST API v2 (shared/reference/pexip.md §5) for the page's
SDK (@pexip/infinity) to join: ``request_token`` (PIN in the ``pin`` header), the ``events``
server-sent event stream, the WebRTC ``calls`` offer/answer with ``ack`` and ``new_candidate``,
token refresh/release, self mute and the presentation floor. Answers are shaped so that the
SDK's response validators accept them. There is no media: the SDP answer mirrors the offer's
media sections with made-up ICE credentials and no candidates, so the media connection simply
never completes.

Every request, CORS preflights included, is recorded (method, path, query, headers, JSON body)
so tests can assert on what the browser sent.

Roles as Infinity enforces them: with ``host_pin`` set, ``request_token`` makes the holder of
the host PIN a chair, of ``guest_pin`` a guest, and refuses any other PIN; a guest's host action
(muting or removing someone else, a role change, lock, mute guests, lower all hands, end) is
refused with 403. Without ``host_pin`` any PIN makes a chair (the page tests' default). Host
actions change the state and are announced on the event streams (participant_update, the
removed participant's own ``disconnect``, conference_update, message_received).

With ``policy`` set, the node asks an external policy server as Infinity does
(shared/reference/pexip.md §2.2-2.6, docs.pexip.com/admin/external_policy_requests.htm): on
``request_token`` the service configuration of the dialled alias (its PINs decide the role the PIN
grants; ``reject`` or no answer is an unknown conference, 404), then, after the PIN, the
participant's properties for the control leg (``participant_type=api``), and again for the media
leg when the ``calls`` offer comes (``participant_type=standard``, ``protocol=webrtc``): WebRTC
legs are asked after their PIN was checked, with the role it granted in
``preauthenticated_role``. The answer's ``preauthenticated_role``, ``remote_display_name`` and
``call_tag`` replace the leg's; ``action=reject`` refuses the leg (403 with the
``reject_reason``). A policy server that does not answer 200 with a ``success`` envelope leaves
the leg as the PIN made it, as Infinity falls back to its own configuration.

Modes: ``normal``; ``pin_refused`` (``request_token`` answers 403 with an error string, as
Infinity does for a wrong PIN); and "down", which is simply a node that is not started (or
stopped): nothing listens on its port.

It is served over HTTPS with a self-signed certificate made at start-up, with CORS headers for
the page's origin (meetbridge serves the page; the node is another origin).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
import re
import secrets
import ssl
import tempfile
import time
import uuid as uuid_module
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx2
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.ports import free_port

Mode = Literal["normal", "pin_refused"]

API_PREFIX = "/api/client/v2/conferences/"
VERSION = {"version_id": "36", "pseudo_version": "80112.0.0"}

PolicyServer = Callable[[str, dict[str, str]], Awaitable[tuple[int, Any]]]
"""(request path after ``/policy/v1/``, query) -> (status, parsed JSON body): the external
policy server a node's location is configured with."""


def policy_over_http(base_url: str, headers: dict[str, str]) -> PolicyServer:
    """meetbridge's policy server at ``base_url`` (``…/api/pexip``), with its credentials."""

    async def ask(path: str, query: dict[str, str]) -> tuple[int, Any]:
        async with httpx2.AsyncClient(timeout=10.0) as http:
            answer = await http.get(f"{base_url}/policy/v1/{path}", params=query, headers=headers)
        try:
            return answer.status_code, answer.json()
        except ValueError:
            return answer.status_code, None

    return ask


class Refused(Exception):
    """A request_token or calls the node refuses: (status, result) of its answer."""

    def __init__(self, status: int, result: Any) -> None:
        super().__init__(str(result))
        self.status, self.result = status, result


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or the raw text, or None

    @property
    def alias(self) -> str:
        """The conference alias in the path (URL-decoded), or ''."""
        if not self.path.startswith(API_PREFIX):
            return ""
        return self.path[len(API_PREFIX) :].split("/", 1)[0]

    @property
    def endpoint(self) -> str:
        """The path after the alias, e.g. 'request_token' or 'participants/<uuid>/mute'."""
        if not self.path.startswith(API_PREFIX):
            return self.path
        rest = self.path[len(API_PREFIX) :].split("/", 1)
        return rest[1] if len(rest) > 1 else ""


@dataclass
class SimulatedParticipant:
    uuid: str
    display_name: str
    role: str = "chair"
    muted: bool = False
    video_muted: bool = False
    presenting: bool = False
    waiting: bool = False
    start_time: int = field(default_factory=lambda: int(time.time()))
    #: False for a control-only token (no ``calls`` yet), as meetbridge's own chair session is.
    has_media: bool = True
    buzz_time: int = 0
    call_tag: str = ""
    #: The alias the participant dialled (the conference's own name without a policy server).
    local_alias: str = ""

    def event(self) -> dict[str, Any]:
        """The participant as Infinity describes it in participant_create/update events."""
        return {
            "uuid": self.uuid,
            "display_name": self.display_name,
            "overlay_text": self.display_name,
            "role": self.role,
            "service_type": "waiting_room" if self.waiting else "conference",
            "protocol": "webrtc",
            "uri": "",
            "vendor": "meetbridge tests",
            "call_direction": "in",
            "start_time": self.start_time,
            "buzz_time": self.buzz_time,
            "spotlight": 0,
            "is_muted": "YES" if self.muted else "NO",
            "is_client_muted": False,
            "is_video_muted": self.video_muted,
            "is_presenting": "YES" if self.presenting else "NO",
            "is_audio_only_call": "NO",
            # A control-only leg is neither an audio nor a video call (the SDK's CallType "api").
            "is_video_call": "YES" if self.has_media else "NO",
            "is_external": False,
            "is_streaming_conference": False,
            "is_video_silent": False,
            "has_media": self.has_media,
            "rx_presentation_policy": "ALLOW",
            "mute_supported": "YES",
            "disconnect_supported": "YES",
            "transfer_supported": "YES",
            "fecc_supported": "NO",
            "presentation_supported": "YES",
            "local_alias": "",
            "encryption": "On",
        }


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "simulated-conferencing-node")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "node.crt", directory / "node.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _fingerprint() -> str:
    return ":".join(f"{b:02X}" for b in secrets.token_bytes(32))


def sdp_answer(offer: str) -> str:
    """An answer to a browser's offer: every media section accepted, receive-only or inactive,
    with the first offered codec, made-up ICE credentials and no candidates."""
    lines = [line for line in offer.replace("\r\n", "\n").split("\n") if line]
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
    ufrag, pwd, fingerprint = secrets.token_hex(4), secrets.token_hex(12), _fingerprint()
    mids = [
        next((ln[6:] for ln in section if ln.startswith("a=mid:")), str(index))
        for index, section in enumerate(sections)
    ]
    out = [
        "v=0",
        f"o=- {secrets.randbelow(10**12)} 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        f"a=group:BUNDLE {' '.join(mids)}",
        "a=msid-semantic: WMS",
    ]
    for section, mid in zip(sections, mids, strict=True):
        kind, _port, proto, *formats = section[0][2:].split(" ")
        common = [
            "c=IN IP4 0.0.0.0",
            f"a=ice-ufrag:{ufrag}",
            f"a=ice-pwd:{pwd}",
            f"a=fingerprint:sha-256 {fingerprint}",
            "a=setup:active",
            f"a=mid:{mid}",
        ]
        if kind == "application":
            out += [f"m=application 9 {proto} {' '.join(formats)}", *common, "a=sctp-port:5000"]
            continue
        chosen = formats[0] if formats else "0"
        direction = next(
            (
                ln[2:]
                for ln in section
                if ln[2:] in ("sendrecv", "sendonly", "recvonly", "inactive")
            ),
            "sendrecv",
        )
        answer_direction = "recvonly" if direction in ("sendrecv", "sendonly") else "inactive"
        codec = [
            ln for ln in section if re.match(rf"a=(rtpmap|fmtp|rtcp-fb):{re.escape(chosen)}\b", ln)
        ]
        extra = [ln for ln in section if ln in ("a=rtcp-mux", "a=rtcp-rsize")]
        content = [ln for ln in section if ln.startswith("a=content:")]
        out += [f"m={kind} 9 {proto} {chosen}", *common, *content, f"a={answer_direction}"]
        out += [*extra, *codec]
    return "\r\n".join(out) + "\r\n"


class ConferencingNode:
    """One simulated node on 127.0.0.1:<port>; ``start()``/``stop()`` may be called repeatedly,
    and the port stays the same (so "down" then "up" is the same address)."""

    def __init__(
        self, port: int | None = None, conference_name: str = "meetbridge meeting"
    ) -> None:
        self.port = port or free_port()
        self.conference_name = conference_name
        self.mode: Mode = "normal"
        #: Start every joiner in the waiting room ("waiting for the host").
        self.waiting_for_host = False
        #: Seconds request_token takes to answer (to observe the "connecting" state).
        self.token_delay = 0.0
        #: Seconds the WebRTC ``calls`` offer takes to answer (to act while media is being set up).
        self.calls_delay = 0.0
        #: The conference's PINs; with host_pin None any PIN makes a chair.
        self.host_pin: str | None = None
        self.guest_pin: str | None = None
        #: Infinity's external policy server, when the location has one (see the module's doc).
        self.policy: PolicyServer | None = None
        #: (path, query, status, body) of every request sent to the policy server.
        self.policy_requests: list[tuple[str, dict[str, str], int, Any]] = []
        self._service: dict[str, Any] = {}  # the last service configuration the policy gave
        self.locked = False
        self.guests_muted = False
        self.ended = False
        self.requests: list[RecordedRequest] = []
        #: Each request a token made, its maker's role then, and the status answered.
        self.actions: list[tuple[str, str, int]] = []
        self.participants: dict[str, SimulatedParticipant] = {}
        self.tokens: dict[str, str] = {}  # token -> participant uuid
        self._streams: list[asyncio.Queue[tuple[str, Any] | None]] = []
        self._stream_owner: dict[int, str] = {}  # id(queue) -> participant uuid
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="conferencing-node-")
        self._cert, self._key = _self_signed_certificate(Path(self._tmp.name))
        self.app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._handle,
                    methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
                )
            ]
        )

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """What meetbridge's ``pexip_node`` setting should be."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.address}"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this node's self-signed certificate (and only it)."""
        return ssl.create_default_context(cafile=str(self._cert))

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            return
        server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host="127.0.0.1",
                port=self.port,
                ssl_certfile=str(self._cert),
                ssl_keyfile=str(self._key),
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )
        self._task = asyncio.create_task(server.serve())
        while not server.started:
            if self._task.done():
                raise RuntimeError("the simulated Conferencing Node did not start")
            await asyncio.sleep(0.02)
        self._server = server

    async def stop(self) -> None:
        server, task = self._server, self._task
        self._server, self._task = None, None
        for queue in self._streams:
            queue.put_nowait(None)
        if server is not None and task is not None:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def close(self) -> None:
        self._tmp.cleanup()

    # --- what tests look at ---------------------------------------------------------------------

    def requests_to(self, endpoint: str, method: str = "POST") -> list[RecordedRequest]:
        """Recorded requests whose path ends with ``endpoint`` (preflights excluded)."""
        return [r for r in self.requests if r.method == method and r.endpoint.endswith(endpoint)]

    async def wait_for(
        self, endpoint: str, method: str = "POST", count: int = 1, timeout: float = 10.0
    ) -> list[RecordedRequest]:
        async with asyncio.timeout(timeout):
            while len(found := self.requests_to(endpoint, method)) < count:
                await asyncio.sleep(0.05)
        return found

    # --- what tests make happen -----------------------------------------------------------------

    def add_participant(self, display_name: str, role: str = "chair") -> SimulatedParticipant:
        """Someone else joins (announced on open event streams)."""
        participant = SimulatedParticipant(str(uuid_module.uuid4()), display_name, role)
        self.participants[participant.uuid] = participant
        self.broadcast("participant_create", participant.event())
        return participant

    def remove_participant(self, participant: SimulatedParticipant) -> None:
        self.participants.pop(participant.uuid, None)
        self.broadcast("participant_delete", {"uuid": participant.uuid})

    def start_presentation(self, presenter: SimulatedParticipant) -> None:
        presenter.presenting = True
        self.broadcast("participant_update", presenter.event())
        self.broadcast(
            "presentation_start",
            {
                "presenter_name": presenter.display_name,
                "presenter_uri": "",
                "presenter_uuid": presenter.uuid,
                "source": "",
            },
        )

    def stop_presentation(self, presenter: SimulatedParticipant) -> None:
        presenter.presenting = False
        self.broadcast("participant_update", presenter.event())
        self.broadcast("presentation_stop", {})

    def disconnect_everyone(
        self, reason: str = "Conference terminated by another participant"
    ) -> None:
        self.broadcast("disconnect", {"reason": reason})

    def broadcast(self, event: str, data: Any) -> None:
        for queue in self._streams:
            queue.put_nowait((event, data))

    def send_to(self, uuid: str, event: str, data: Any) -> None:
        """An event for one participant's own event streams only."""
        for queue in self._streams:
            if self._stream_owner.get(id(queue)) == uuid:
                queue.put_nowait((event, data))

    def actions_to(self, endpoint: str) -> list[tuple[str, str, int]]:
        """(endpoint, role of whoever asked, status) of token requests ending with endpoint."""
        return [a for a in self.actions if a[0].endswith(endpoint)]

    # --- the HTTP side --------------------------------------------------------------------------

    def _cors(self, request: Request) -> dict[str, str]:
        headers = {
            "Access-Control-Allow-Origin": request.headers.get("origin", "*"),
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": request.headers.get(
                "access-control-request-headers", "content-type, pin, token"
            ),
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }
        if request.headers.get("access-control-request-private-network"):
            headers["Access-Control-Allow-Private-Network"] = "true"
        return headers

    def _json(self, request: Request, status: int, result: Any, state: str = "success") -> Response:
        return JSONResponse(
            {"status": state, "result": result}, status_code=status, headers=self._cors(request)
        )

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        path = request.url.path
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=path,
                query=dict(request.query_params),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
        )
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=self._cors(request))
        if not path.startswith(API_PREFIX) or "/" not in path[len(API_PREFIX) :]:
            return self._json(request, 404, "Not a Pexip client API path", "failed")
        alias, endpoint = path[len(API_PREFIX) :].split("/", 1)
        if endpoint == "request_token" and request.method == "POST":
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            return await self._request_token(request, alias, body if isinstance(body, dict) else {})
        token = request.headers.get("token") or request.query_params.get("token", "")
        me = self.tokens.get(token)
        if me is None:
            return self._json(request, 403, "Invalid token", "failed")
        return await self._with_token(request, endpoint, me, body)

    async def _request_token(self, request: Request, alias: str, body: dict[str, Any]) -> Response:
        if self.mode == "pin_refused":
            return self._json(request, 403, "Invalid PIN", "failed")
        participant = SimulatedParticipant(
            str(uuid_module.uuid4()),
            str(body.get("display_name", "")),
            "guest",
            waiting=self.waiting_for_host,
            has_media=False,
            call_tag=str(body.get("call_tag", "")),
            local_alias=alias,
        )
        try:
            await self._admit(participant, request.headers.get("pin"))
        except Refused as refused:
            return self._json(request, refused.status, refused.result, "failed")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = participant.uuid
        self.participants[participant.uuid] = participant
        self.broadcast("participant_create", participant.event())
        return self._json(
            request,
            200,
            {
                "token": token,
                "expires": "120",
                "participant_uuid": participant.uuid,
                "display_name": participant.display_name,
                "conference_name": self.conference_name,
                "role": "HOST" if participant.role == "chair" else "GUEST",
                "service_type": "conference",
                "current_service_type": "waiting_room" if participant.waiting else "conference",
                "call_type": "video",
                "chat_enabled": True,
                "guests_can_present": True,
                # No "stun"/"turn": the SDK turns an empty list into an ICE server without URLs.
                "direct_media": False,
                "use_relay_candidates_only": False,
                "pex_datachannel_id": 1,
                "version": VERSION,
                "analytics_enabled": False,
                "call_tag": participant.call_tag,
            },
        )

    async def _admit(self, participant: SimulatedParticipant, pin: str | None) -> None:
        """The role (and, with a policy server, the name and tag) Infinity gives a new token."""
        if self.policy is None:
            role = self._role_for_pin(pin)
            if role is None:
                raise Refused(403, "Invalid PIN")
            participant.role = role
            return
        status, answer = await self._ask("service/configuration", self._call_query(participant))
        if status != 200 or not _succeeded(answer) or answer.get("action") == "reject":
            raise Refused(404, "Conference not found")  # as for an alias Infinity does not know
        service = answer.get("result") or {}
        participant.role = _role_by_service_pin(service, pin)
        self._service = service
        await self._properties(participant, "api", "api")

    async def _properties(
        self, participant: SimulatedParticipant, participant_type: str, protocol: str
    ) -> None:
        """Ask for the leg's properties after its PIN and apply the answer (or refuse it)."""
        query = {
            **self._call_query(participant, protocol),
            "service_name": str(self._service.get("name", "")),
            "unique_service_name": str(self._service.get("name", "")),
            "service_tag": str(self._service.get("service_tag", "")),
            "participant_uuid": participant.uuid,
            "call_uuid": participant.uuid,
            "participant_type": participant_type,
            "preauthenticated_role": participant.role,
            "bypass_lock": "False",
            "receive_from_audio_mix": "main",
            "send_to_audio_mixes_mix_name": "main",
            "send_to_audio_mixes_prominent": "False",
        }
        status, answer = await self._ask("participant/properties", query)
        if status != 200 or not _succeeded(answer):
            return  # no usable answer: the leg stays as its PIN made it
        result = answer.get("result") if isinstance(answer.get("result"), dict) else {}
        if answer.get("action") == "reject":
            raise Refused(403, str(result.get("reject_reason") or "Rejected by policy"))
        if result.get("preauthenticated_role") in ("chair", "guest"):
            participant.role = str(result["preauthenticated_role"])
        if isinstance(result.get("remote_display_name"), str):
            participant.display_name = result["remote_display_name"]
        if isinstance(result.get("call_tag"), str):
            participant.call_tag = result["call_tag"]

    def _call_query(
        self, participant: SimulatedParticipant, protocol: str = "api"
    ) -> dict[str, str]:
        return {
            "call_direction": "dial_in",
            "protocol": protocol,
            "bandwidth": "0",
            "vendor": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
            "encryption": "On",
            "registered": "False",
            "trigger": "web",
            "local_alias": participant.local_alias,
            "remote_alias": participant.display_name,
            "remote_display_name": participant.display_name,
            "remote_address": "127.0.0.1",
            "remote_port": "52311",
            "call_tag": participant.call_tag,
            "idp_uuid": "",
            "has_authenticated_display_name": "False",
            "supports_direct_media": "False",
            "teams_tenant_id": "",
            "location": "simulated",
            "node_ip": "127.0.0.1",
            "version_id": VERSION["version_id"],
            "pseudo_version_id": VERSION["pseudo_version"],
        }

    async def _ask(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        assert self.policy is not None
        status, answer = await self.policy(path, query)
        self.policy_requests.append((path, query, status, answer))
        return status, answer if isinstance(answer, dict) else {}

    def _role_for_pin(self, pin: str | None) -> str | None:
        if self.host_pin is None:
            return "chair" if pin not in (None, "", "none") else "guest"
        if pin == self.host_pin:
            return "chair"
        if self.guest_pin is not None and pin == self.guest_pin:
            return "guest"
        return None

    async def _with_token(self, request: Request, endpoint: str, me: str, body: Any) -> Response:
        actor = self.participants.get(me)
        response = await self._answer(request, endpoint, me, body)
        self.actions.append((endpoint, actor.role if actor else "", response.status_code))
        return response

    async def _answer(self, request: Request, endpoint: str, me: str, body: Any) -> Response:
        parts = endpoint.strip("/").split("/")
        method = request.method
        if method == "POST" and _is_host_action(parts, me):
            actor = self.participants.get(me)
            if actor is None or actor.role != "chair":
                # As Infinity: a guest's host action is refused. [unconfirmed: exact status]
                return self._json(request, 403, "Only a Host can do this", "failed")
            host = self._host_action(parts, body)
            if host is not None:
                return self._json(
                    request, host[0], host[1], "success" if host[0] == 200 else "failed"
                )
        if endpoint == "events" and method == "GET":
            return self._events(request, me)
        if endpoint == "refresh_token":
            return self._json(
                request, 200, {"token": request.headers.get("token", ""), "expires": "120"}
            )
        if endpoint == "release_token":
            self._leave(me)
            return self._json(request, 200, True)
        if endpoint.rstrip("/") == "theme":
            return Response(status_code=204, headers=self._cors(request))
        if endpoint == "conference_status":
            return self._json(request, 200, self._conference_status())
        if endpoint == "participants":
            return self._json(request, 200, [p.event() for p in self.participants.values()])
        if parts[0] == "participants" and len(parts) >= 3:
            participant = self.participants.get(parts[1])
            verb = parts[2]
            if verb == "calls" and len(parts) == 3:
                if self.calls_delay:
                    await asyncio.sleep(self.calls_delay)
                if participant is not None and not participant.has_media:
                    if self.policy is not None:
                        try:
                            await self._properties(participant, "standard", "webrtc")
                        except Refused as refused:
                            self._leave(participant.uuid)
                            return self._json(request, refused.status, refused.result, "failed")
                    participant.has_media = True
                    self.broadcast("participant_update", participant.event())
                offer = body.get("sdp", "") if isinstance(body, dict) else ""
                return self._json(
                    request, 200, {"call_uuid": str(uuid_module.uuid4()), "sdp": sdp_answer(offer)}
                )
            if verb == "calls" and len(parts) >= 5:
                call_verb = parts[4]
                if call_verb == "ack":
                    return self._json(request, 200, True)
                if call_verb == "update":
                    offer = body.get("sdp", "") if isinstance(body, dict) else ""
                    return self._json(
                        request, 200, {"call_uuid": parts[3], "sdp": sdp_answer(offer)}
                    )
                return self._json(request, 200, None)  # new_candidate, disconnect, dtmf...
            if participant is not None and verb in (
                "mute",
                "unmute",
                "video_muted",
                "video_unmuted",
            ):
                if verb in ("mute", "unmute"):
                    participant.muted = verb == "mute"
                else:
                    participant.video_muted = verb == "video_muted"
                self.broadcast("participant_update", participant.event())
                return self._json(request, 200, True)
            if verb in ("take_floor", "release_floor", "statistics"):
                return self._json(request, 200, None)
            actor = self.participants.get(me)
            mine_or_chair = parts[1] == me or (actor is not None and actor.role == "chair")
            if participant is not None and verb in ("buzz", "clearbuzz") and mine_or_chair:
                participant.buzz_time = int(time.time()) if verb == "buzz" else 0
                self.broadcast("participant_update", participant.event())
                return self._json(request, 200, True)
            if participant is not None and verb == "message":
                message = self._message(me, body, direct=True)
                self.send_to(participant.uuid, "message_received", message)
                return self._json(request, 200, True)
        if endpoint == "message" and method == "POST":
            self.broadcast("message_received", self._message(me, body, direct=False))
            return self._json(request, 200, True)
        if endpoint == "statistics":
            return self._json(request, 200, None)
        return self._json(request, 404, f"Unknown endpoint {endpoint}", "failed")

    def _message(self, sender: str, body: Any, direct: bool) -> dict[str, Any]:
        who = self.participants.get(sender)
        payload = body.get("payload", "") if isinstance(body, dict) else ""
        return {
            "origin": who.display_name if who else "",
            "uuid": sender,
            "type": "text/plain",
            "payload": str(payload),
            "direct": direct,
        }

    def _host_action(self, parts: list[str], body: Any) -> tuple[int, Any] | None:
        """Carry out a chair's action; (status, result), or None for the ordinary handling."""
        if parts[0] == "participants":
            target = self.participants.get(parts[1])
            if target is None:
                return 404, f"Participant {parts[1]} not found"
            return self._on_participant(target, parts[2], body)
        verb = parts[0]
        if verb in ("lock", "unlock"):
            self.locked = verb == "lock"
        elif verb in ("muteguests", "unmuteguests"):
            self.guests_muted = verb == "muteguests"
            for guest in self.participants.values():
                if guest.role == "guest":
                    guest.muted = self.guests_muted
                    self.broadcast("participant_update", guest.event())
        elif verb == "clearallbuzz":
            for someone in self.participants.values():
                if someone.buzz_time:
                    someone.buzz_time = 0
                    self.broadcast("participant_update", someone.event())
        elif verb == "disconnect":
            self.ended = True
            self.disconnect_everyone("Conference terminated by a Host")
            self.participants.clear()
            return 200, True
        else:
            return None
        self.broadcast("conference_update", self._conference_status())
        return 200, True

    def _on_participant(
        self, target: SimulatedParticipant, verb: str, body: Any
    ) -> tuple[int, Any] | None:
        if verb == "role":
            role = body.get("role") if isinstance(body, dict) else None
            if role not in ("chair", "guest"):
                return 400, "role must be chair or guest"
            target.role = role
        elif verb in ("mute", "unmute"):
            target.muted = verb == "mute"
        elif verb == "clearbuzz":
            target.buzz_time = 0
        elif verb == "disconnect":
            self.send_to(target.uuid, "disconnect", {"reason": "Disconnected by a Host"})
            self._leave(target.uuid)
            return 200, True
        else:
            return None
        self.broadcast("participant_update", target.event())
        return 200, True

    def _conference_status(self) -> dict[str, Any]:
        return {
            "locked": self.locked,
            "guests_muted": self.guests_muted,
            "started": not self.waiting_for_host,
            "direct_media": False,
            "presentation_allowed": True,
            "all_muted": False,
        }

    def _leave(self, me: str) -> None:
        if self.participants.pop(me, None) is not None:
            self.broadcast("participant_delete", {"uuid": me})
        for token, owner in list(self.tokens.items()):
            if owner == me:
                del self.tokens[token]

    def _events(self, request: Request, me: str) -> Response:
        queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()

        async def stream() -> AsyncIterator[str]:
            self._streams.append(queue)
            self._stream_owner[id(queue)] = me
            try:
                yield _sse("conference_update", self._conference_status())
                yield _sse("participant_sync_begin", {})
                for participant in list(self.participants.values()):
                    yield _sse("participant_create", participant.event())
                yield _sse("participant_sync_end", {})
                while True:
                    try:
                        item = await asyncio.wait_for(queue.get(), timeout=10)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if item is None:
                        return
                    yield _sse(*item)
                    if item[0] == "disconnect":
                        return
            finally:
                self._stream_owner.pop(id(queue), None)
                with contextlib.suppress(ValueError):
                    self._streams.remove(queue)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={**self._cors(request), "Cache-Control": "no-cache"},
        )


# Verbs only a chair may use: on the conference, and on a participant other than oneself
# (reference/pexip.md §5.2-5.3; anyone may mute or lower the hand of themself).
_CONFERENCE_HOST_VERBS = frozenset(
    {"lock", "unlock", "muteguests", "unmuteguests", "disconnect", "clearallbuzz",
     "start_conference", "transform_layout", "set_guests_can_unmute", "dial"}
)  # fmt: skip
_PARTICIPANT_HOST_VERBS = frozenset({"mute", "unmute", "disconnect", "role", "clearbuzz", "unlock"})


def _is_host_action(parts: list[str], me: str) -> bool:
    if len(parts) == 1:
        return parts[0] in _CONFERENCE_HOST_VERBS
    if len(parts) == 3 and parts[0] == "participants":
        if parts[2] == "role":
            return True  # even on oneself: a guest cannot promote itself
        return parts[2] in _PARTICIPANT_HOST_VERBS and parts[1] != me
    return False


def _succeeded(answer: Any) -> bool:
    return isinstance(answer, dict) and answer.get("status") == "success"


def _role_by_service_pin(service: dict[str, Any], pin: str | None) -> str:
    """The role a PIN grants in a conference of this service configuration (§2.5): the host
    ``pin`` makes a chair; with ``allow_guests``, the ``guest_pin`` (or none, if it has none) a
    guest; without any PIN everyone is chair. Any other PIN is refused."""
    host, guest = str(service.get("pin") or ""), str(service.get("guest_pin") or "")
    allow_guests = service.get("allow_guests") is True
    given = "" if pin in (None, "none") else str(pin)
    if not host:
        return "chair"
    if given == host:
        return "chair"
    if allow_guests and given == guest and (guest or pin == "none"):
        return "guest"
    if not given:
        raise Refused(403, {"pin": "required", "guest_pin": "required" if guest else "none"})
    raise Refused(403, "Invalid PIN")


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"

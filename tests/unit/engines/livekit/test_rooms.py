"""The RoomService client: what it sends (path, token, body) and how it reads LiveKit's answers."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx2
import orjson
import pytest

from meetbridge.engines.livekit import hs256
from meetbridge.engines.livekit.models import Permission
from meetbridge.engines.livekit.rooms import (
    LiveKitApiError,
    LiveKitNotFoundError,
    LiveKitUnauthorizedError,
    LiveKitUnavailableError,
    RoomService,
    build_http_client,
    http_url,
)

KEY, SECRET = "APIrooms", "r" * 40
NOW = 1_800_000_000.0

# A CreateRoom answer as livekit-server v1.13.5 sent it: proto field names, zero values present.
CREATE_ROOM_ANSWER = (
    b'{"sid":"RM_RnoCdiURWT6a", "name":"probe", "empty_timeout":30, "departure_timeout":20, '
    b'"max_participants":5, "creation_time":"1796004146", "creation_time_ms":"1796004146304", '
    b'"turn_password":"U8G3", "enabled_codecs":[{"mime":"audio/opus", "fmtp_line":""}], '
    b'"metadata":"m\xc3\xa9", "num_participants":0, "num_publishers":0, '
    b'"active_recording":false, "version":null}'
)


class FixedClock:
    def now(self) -> float:
        return NOW


class Recorder:
    def __init__(self, answer: Callable[[httpx2.Request], httpx2.Response]) -> None:
        self.requests: list[httpx2.Request] = []
        self._answer = answer

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self._answer(request)

    def body(self, index: int = -1) -> Any:
        return orjson.loads(self.requests[index].content)

    def claims(self, index: int = -1) -> dict[str, Any]:
        token = self.requests[index].headers["Authorization"].removeprefix("Bearer ")
        claims = hs256.decode(token, {KEY: SECRET}.get, NOW)
        assert isinstance(claims, dict)
        return claims


def service(answer: Callable[[httpx2.Request], httpx2.Response]) -> tuple[RoomService, Recorder]:
    recorder = Recorder(answer)
    http = build_http_client("wss://sfu.example.com", transport=httpx2.MockTransport(recorder))
    return RoomService(http, KEY, SECRET, FixedClock()), recorder


def ok(content: bytes = b"{}") -> Callable[[httpx2.Request], httpx2.Response]:
    return lambda request: httpx2.Response(200, content=content)


def test_http_url_turns_client_urls_into_server_api_urls() -> None:
    assert http_url("wss://sfu.example.com") == "https://sfu.example.com"
    assert http_url("ws://127.0.0.1:7880") == "http://127.0.0.1:7880"
    assert http_url("https://sfu.example.com/") == "https://sfu.example.com"


async def test_create_room_posts_twirp_json_with_a_short_lived_create_token() -> None:
    rooms, recorder = service(ok(CREATE_ROOM_ANSWER))
    room = await rooms.create_room("probe", max_participants=5, empty_timeout=30, metadata="mé")
    request = recorder.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://sfu.example.com/twirp/livekit.RoomService/CreateRoom"
    assert request.headers["Content-Type"] == "application/json"
    assert recorder.body() == {
        "name": "probe",
        "max_participants": 5,
        "empty_timeout": 30,
        "departure_timeout": 0,
        "metadata": "mé",
    }
    claims = recorder.claims()
    assert claims["iss"] == KEY
    assert claims["exp"] - claims["nbf"] <= 300
    assert claims["video"] == {"roomCreate": True, "roomList": True}
    assert (room.sid, room.name, room.metadata) == ("RM_RnoCdiURWT6a", "probe", "mé")
    assert (room.max_participants, room.empty_timeout, room.departure_timeout) == (5, 30, 20)
    assert room.creation_time_ms == 1_796_004_146_304


async def test_participant_calls_carry_a_token_scoped_to_their_room() -> None:
    rooms, recorder = service(ok(b'{"participants":[{"sid":"PA_1","identity":"u1"}]}'))
    listed = await rooms.list_participants("room-a")
    assert [p.identity for p in listed] == ["u1"]
    assert recorder.claims()["video"] == {
        "room": "room-a",
        "roomAdmin": True,
        "roomCreate": True,
        "roomList": True,
    }


async def test_list_rooms_filters_by_name_and_reads_camel_case_too() -> None:
    rooms, recorder = service(ok(b'{"rooms":[{"sid":"RM_1","name":"a","numParticipants":2}]}'))
    listed = await rooms.list_rooms(["a", "b"])
    assert recorder.body() == {"names": ["a", "b"]}
    assert [(r.name, r.num_participants) for r in listed] == [("a", 2)]


async def test_update_participant_sends_only_what_changes() -> None:
    rooms, recorder = service(ok(b'{"sid":"PA_1","identity":"u1","metadata":"{}"}'))
    await rooms.update_participant("r", "u1", metadata="{}")
    assert recorder.body() == {"room": "r", "identity": "u1", "metadata": "{}"}
    permission = Permission(can_subscribe=True, can_publish_sources=("MICROPHONE",))
    await rooms.update_participant("r", "u1", permission=permission, attributes={"hand": ""})
    assert recorder.body() == {
        "room": "r",
        "identity": "u1",
        "permission": {
            "can_subscribe": True,
            "can_publish": False,
            "can_publish_data": False,
            "can_publish_sources": ["MICROPHONE"],
            "hidden": False,
            "can_update_metadata": False,
        },
        "attributes": {"hand": ""},
    }


async def test_mute_published_track_names_the_track_and_returns_it() -> None:
    rooms, recorder = service(ok(b'{"track":{"sid":"TR_1","muted":true,"source":"MICROPHONE"}}'))
    track = await rooms.mute_published_track("r", "u1", "TR_1")
    assert recorder.body() == {"room": "r", "identity": "u1", "track_sid": "TR_1", "muted": True}
    assert track is not None
    assert (track.sid, track.muted, track.source) == ("TR_1", True, "MICROPHONE")


async def test_send_data_encodes_bytes_as_base64_with_kind_and_topic() -> None:
    rooms, recorder = service(ok())
    await rooms.send_data("r", b"\x00hi\xff", destination_identities=["u2"], topic="chat")
    assert recorder.body() == {
        "room": "r",
        "data": base64.b64encode(b"\x00hi\xff").decode(),
        "kind": "RELIABLE",
        "destination_identities": ["u2"],
        "topic": "chat",
    }
    await rooms.send_data("r", b"x", reliable=False)
    assert recorder.body()["kind"] == "LOSSY"
    assert "topic" not in recorder.body()


async def test_remove_delete_and_room_metadata_hit_their_methods() -> None:
    rooms, recorder = service(ok(b'{"sid":"RM_1","name":"r","metadata":"m"}'))
    await rooms.remove_participant("r", "u1")
    await rooms.delete_room("r")
    room = await rooms.update_room_metadata("r", "m")
    paths = [request.url.path.rsplit("/", 1)[1] for request in recorder.requests]
    assert paths == ["RemoveParticipant", "DeleteRoom", "UpdateRoomMetadata"]
    assert recorder.body(0) == {"room": "r", "identity": "u1"}
    assert "roomAdmin" not in recorder.claims(1)["video"]
    assert room.metadata == "m"


def twirp(status: int, code: str, msg: str = "m") -> Callable[[httpx2.Request], httpx2.Response]:
    return lambda request: httpx2.Response(status, json={"code": code, "msg": msg})


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (twirp(404, "not_found", "requested room does not exist"), LiveKitNotFoundError),
        (twirp(401, "unauthenticated", "permissions denied"), LiveKitUnauthorizedError),
        (twirp(403, "permission_denied"), LiveKitUnauthorizedError),
        (twirp(503, "unavailable"), LiveKitUnavailableError),
        (twirp(500, "internal"), LiveKitUnavailableError),
        (twirp(429, "resource_exhausted"), LiveKitUnavailableError),
        (
            lambda request: httpx2.Response(502, content=b"<html>bad gateway</html>"),
            LiveKitUnavailableError,
        ),
        (ok(b"not json"), LiveKitUnavailableError),
        (ok(b"[]"), LiveKitUnavailableError),
        (ok(b'{"participants":"nobody"}'), LiveKitUnavailableError),
        (ok(b'{"participants":[{"identity":5}]}'), LiveKitUnavailableError),
    ],
)
async def test_answers_map_onto_the_error_hierarchy(
    answer: Callable[[httpx2.Request], httpx2.Response], error: type[Exception]
) -> None:
    rooms, _ = service(answer)
    with pytest.raises(error):
        await rooms.list_participants("r")


async def test_a_plain_refusal_is_an_api_error_with_code_and_message() -> None:
    rooms, _ = service(twirp(400, "invalid_argument", "metadata exceeds limits"))
    with pytest.raises(LiveKitApiError) as raised:
        await rooms.create_room("r", metadata="x" * 10)
    assert type(raised.value) is LiveKitApiError
    assert (raised.value.status, raised.value.code) == (400, "invalid_argument")
    assert "metadata exceeds limits" in raised.value.message


async def test_network_trouble_is_unavailable() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    rooms, _ = service(refuse)
    with pytest.raises(LiveKitUnavailableError):
        await rooms.list_rooms()


async def test_the_secret_never_travels() -> None:
    rooms, recorder = service(ok(b'{"rooms":[]}'))
    await rooms.list_rooms()
    request = recorder.requests[0]
    assert SECRET not in str(request.url)
    assert SECRET.encode() not in request.content
    assert all(SECRET not in value for value in request.headers.values())

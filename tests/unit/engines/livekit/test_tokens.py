"""LiveKit access tokens: the HS256 JWT layer and the claims LiveKit reads."""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson
import pytest

from meetbridge.engines.livekit import hs256
from meetbridge.engines.livekit.tokens import (
    AccessTokenRequest,
    TrackSource,
    VideoGrant,
    admin_grant,
    member_grant,
    mint,
)

KEY, SECRET = "APIkey123", "s" * 32
NOW = 1_800_000_000.0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pad(segment: str) -> str:
    return segment + "=" * (-len(segment) % 4)


def parts(token: str) -> tuple[dict[str, object], dict[str, object], bytes]:
    header, payload, signature = token.split(".")
    return (
        orjson.loads(base64.urlsafe_b64decode(pad(header))),
        orjson.loads(base64.urlsafe_b64decode(pad(payload))),
        base64.urlsafe_b64decode(pad(signature)),
    )


# RFC 7515 appendix A.1: an HS256 JWS computed by someone else, byte for byte.
RFC_KEY = base64.urlsafe_b64decode(
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow=="
)
RFC_TOKEN = (
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)


def rfc_secret(issuer: str) -> bytes | None:
    return RFC_KEY if issuer == "joe" else None


def test_decode_accepts_the_rfc_7515_example_signed_elsewhere() -> None:
    claims = hs256.decode(RFC_TOKEN, rfc_secret, now=1_300_819_000.0)
    assert isinstance(claims, dict)
    assert claims["iss"] == "joe"
    assert claims["http://example.com/is_root"] is True


def test_decode_refuses_the_rfc_example_once_expired_beyond_leeway() -> None:
    refused = hs256.decode(RFC_TOKEN, rfc_secret, now=1_300_819_380.0 + 61)
    assert isinstance(refused, hs256.Refused)
    assert "expired" in refused.reason


def test_encode_signs_header_dot_payload_with_hmac_sha256() -> None:
    token = hs256.encode({"iss": KEY, "exp": 5}, SECRET)
    header, payload, signature = parts(token)
    signing_input = token.rsplit(".", 1)[0].encode()
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert payload == {"iss": KEY, "exp": 5}
    assert signature == hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest()
    assert "=" not in token


def test_minted_member_token_carries_the_claims_livekit_reads() -> None:
    token = mint(
        KEY,
        SECRET,
        AccessTokenRequest(
            identity="user-1",
            name="Ada Lovelace",
            grant=member_grant("room-a", sources=(TrackSource.MICROPHONE, TrackSource.CAMERA)),
            metadata='{"host":true}',
            attributes={"mattermost_user": "u1"},
            ttl=600,
        ),
        now=NOW,
    )
    _, claims, _ = parts(token)
    assert claims == {
        "iss": KEY,
        "sub": "user-1",
        "nbf": int(NOW),
        "iat": int(NOW),
        "exp": int(NOW) + 600,
        "name": "Ada Lovelace",
        "metadata": '{"host":true}',
        "attributes": {"mattermost_user": "u1"},
        "video": {
            "room": "room-a",
            "roomJoin": True,
            "canPublish": True,
            "canSubscribe": True,
            "canPublishData": True,
            "canPublishSources": ["microphone", "camera"],
        },
    }


def test_false_permissions_are_written_out_because_livekit_defaults_them_to_true() -> None:
    grant = VideoGrant(room="r", room_join=True, can_publish=False, can_subscribe=True, hidden=True)
    token = mint(KEY, SECRET, AccessTokenRequest(identity="bot", grant=grant), now=NOW)
    video = parts(token)[1]["video"]
    assert video == {
        "room": "r",
        "roomJoin": True,
        "canPublish": False,
        "canSubscribe": True,
        "hidden": True,
    }


def test_admin_grant_is_room_scoped_and_can_create_and_list() -> None:
    token = mint(KEY, SECRET, AccessTokenRequest(grant=admin_grant("room-b")), now=NOW)
    claims = parts(token)[1]
    assert "sub" not in claims
    assert claims["video"] == {
        "room": "room-b",
        "roomAdmin": True,
        "roomCreate": True,
        "roomList": True,
    }


def test_minted_token_round_trips_through_decode() -> None:
    token = mint(KEY, SECRET, AccessTokenRequest(identity="ü-名", grant=member_grant("x")), now=NOW)
    claims = hs256.decode(token, {KEY: SECRET}.get, now=NOW + 10)
    assert isinstance(claims, dict)
    assert claims["sub"] == "ü-名"


def test_a_join_grant_without_identity_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="identity"):
        mint(KEY, SECRET, AccessTokenRequest(grant=member_grant("x")), now=NOW)


def test_a_non_positive_ttl_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="ttl"):
        mint(KEY, SECRET, AccessTokenRequest(identity="a", grant=member_grant("x"), ttl=0), now=NOW)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        "not base64!.e30.AAAA",
        b64url(b"[]") + "." + b64url(b"{}") + ".AAAA",
        b64url(b'{"alg":"none"}') + "." + b64url(b'{"iss":"APIkey123"}') + ".",
        b64url(b'{"alg":"HS512"}') + "." + b64url(b'{"iss":"APIkey123"}') + ".AAAA",
        b64url(b'{"alg":"HS256"}') + "." + b64url(b"not json") + ".AAAA",
        b64url(b'{"alg":"HS256"}') + "." + b64url(b'{"iss":5}') + ".AAAA",
        b64url(b'{"alg":"HS256"}') + "." + b64url(b"\xff\xfe") + ".AAAA",
        "é.é.é",
        "x" * 100_000,
    ],
)
def test_decode_refuses_malformed_tokens_without_raising(token: str) -> None:
    assert isinstance(hs256.decode(token, {KEY: SECRET}.get, now=NOW), hs256.Refused)


def test_decode_refuses_non_ascii_bytes() -> None:
    assert isinstance(hs256.decode("tök.en.x".encode(), {KEY: SECRET}.get, NOW), hs256.Refused)


def test_decode_refuses_an_unknown_issuer() -> None:
    token = hs256.encode({"iss": "other", "exp": NOW + 60}, SECRET)
    refused = hs256.decode(token, {KEY: SECRET}.get, now=NOW)
    assert isinstance(refused, hs256.Refused)
    assert "issuer" in refused.reason


def test_decode_refuses_a_token_signed_with_another_secret() -> None:
    token = hs256.encode({"iss": KEY, "exp": NOW + 60}, "t" * 32)
    refused = hs256.decode(token, {KEY: SECRET}.get, now=NOW)
    assert isinstance(refused, hs256.Refused)
    assert "signature" in refused.reason


def test_decode_refuses_a_payload_swapped_under_a_valid_signature() -> None:
    genuine = hs256.encode({"iss": KEY, "exp": NOW + 60, "sub": "a"}, SECRET)
    forged_payload = b64url(orjson.dumps({"iss": KEY, "exp": NOW + 60, "sub": "admin"}))
    header, _, signature = genuine.split(".")
    refused = hs256.decode(f"{header}.{forged_payload}.{signature}", {KEY: SECRET}.get, NOW)
    assert isinstance(refused, hs256.Refused)


def test_decode_refuses_a_non_canonical_signature_encoding() -> None:
    token = hs256.encode({"iss": KEY, "exp": NOW + 60}, SECRET)
    # 32 bytes encode to 43 characters; the last carries 2 unused bits that must be zero.
    head, sig = token.rsplit(".", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = sig[:-1] + alphabet[alphabet.index(sig[-1]) ^ 1]
    assert base64.urlsafe_b64decode(twin + "=") == base64.urlsafe_b64decode(sig + "=")
    assert isinstance(hs256.decode(f"{head}.{twin}", {KEY: SECRET}.get, NOW), hs256.Refused)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": KEY}, "exp"),
        ({"iss": KEY, "exp": "soon"}, "exp"),
        ({"iss": KEY, "exp": True}, "exp"),
        ({"iss": KEY, "exp": NOW - 61}, "expired"),
        ({"iss": KEY, "exp": NOW + 600, "nbf": NOW + 61}, "not yet"),
        ({"iss": KEY, "exp": NOW + 600, "nbf": "later"}, "nbf"),
    ],
)
def test_decode_enforces_validity_window_with_one_minute_leeway(
    claims: dict[str, object], reason: str
) -> None:
    refused = hs256.decode(hs256.encode(claims, SECRET), {KEY: SECRET}.get, now=NOW)
    assert isinstance(refused, hs256.Refused)
    assert reason in refused.reason


def test_decode_accepts_clock_skew_within_leeway() -> None:
    token = hs256.encode({"iss": KEY, "exp": NOW - 30, "nbf": NOW + 30}, SECRET)
    assert isinstance(hs256.decode(token, {KEY: SECRET}.get, now=NOW), dict)


def test_an_empty_secret_never_verifies_anything() -> None:
    # A key configured with an empty secret must not turn into "HMAC with an empty key".
    token = hs256.encode({"iss": KEY, "exp": NOW + 60}, "")
    refused = hs256.decode(token, {KEY: ""}.get, now=NOW)
    assert isinstance(refused, hs256.Refused)


def test_minting_with_an_empty_secret_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="secret"):
        mint(KEY, "", AccessTokenRequest(identity="a", grant=member_grant("x")), now=NOW)

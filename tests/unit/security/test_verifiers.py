"""Every verifier treats malformed input as "invalid": it answers False/None or refuses with its
own error, and never raises on text it did not expect (item 1 of issue 9)."""

from __future__ import annotations

import base64
import contextlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meetbridge.chat.mattermost.actions import ActionSigner
from meetbridge.crypto import Signer, constant_time_equal
from meetbridge.domain.call_tags import make_call_tag, user_from_call_tag
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.tokens import TokenCodec, TokenError
from meetbridge.engines.pexip.events import EnvelopeError, parse_body
from meetbridge.engines.zoom import webhooks
from meetbridge.store.credentials_repo import PexipCredentials
from meetbridge.web.basic_auth import BasicAuthChecker

CHANNEL = ChannelId("k3f9q1x7ab8cd2ef4gh6ij8kl0")
USER = UserId("u3f9q1x7ab8cd2ef4gh6ij8kl0")
SIGNER = Signer(b"s" * 32)

# Text a client controls: non-ASCII, a NUL, a lone surrogate (what json.loads lets through),
# Latin-1 as a header decodes it, and something huge.
HOSTILE = ["é", "\x00", "\ud800", "ÿ" * 40, "😀" * 8, "a" * 100_000, ""]


@pytest.mark.parametrize("given", HOSTILE)
def test_signer_verify_refuses_non_ascii_and_malformed_signatures(given: str) -> None:
    assert SIGNER.verify("message", given) is False
    assert SIGNER.verify(given, given) is False


def test_signer_accepts_its_own_signature_of_any_text() -> None:
    for message in HOSTILE:
        assert SIGNER.verify(message, SIGNER.sign(message))


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ("abc", "abc", True),
        (b"abc", "abc", True),
        ("é", "é", True),
        ("é", "e", False),
        ("\ud800", "\ud800", True),
        ("\ud800", "?", False),
        ("\x00", "", False),
    ],
)
def test_constant_time_equal_compares_any_text_as_bytes(
    left: str | bytes, right: str | bytes, equal: bool
) -> None:
    assert constant_time_equal(left, right) is equal


@pytest.mark.parametrize("junk", HOSTILE)
def test_non_ascii_call_tag_is_not_a_member(junk: str) -> None:
    good = make_call_tag(SIGNER, CHANNEL, USER)
    prefix, user, signature = good.split(".")
    for tag in (junk, f"{prefix}.{user}.{junk}", f"{prefix}.{user}.{signature[:-1]}{junk}"):
        assert user_from_call_tag(SIGNER, tag, CHANNEL) is None
    assert user_from_call_tag(SIGNER, good, CHANNEL) == USER


def test_an_absurdly_long_call_tag_is_refused_without_signing_it() -> None:
    class CountingSigner(Signer):
        calls = 0

        def verify(self, message: str, signature: str, length: int = 32) -> bool:
            CountingSigner.calls += 1
            return super().verify(message, signature, length)

    signer = CountingSigner(b"s" * 32)
    tag = make_call_tag(signer, CHANNEL, USER) + "x" * 10_000
    assert user_from_call_tag(signer, tag, CHANNEL) is None
    assert CountingSigner.calls == 0


CODEC = TokenCodec(b"k" * 32)


@pytest.mark.parametrize(
    "token",
    [
        "é.é",
        "abc.\ud800",
        "\x00.\x00",
        "eyJ9.é" + "x" * 40,
        "!!!.###",
        # Signed correctly but not base64, not JSON, or not an object.
        None,
    ],
)
def test_token_decode_refuses_malformed_tokens_with_token_error(token: str | None) -> None:
    candidates = [token] if token is not None else _validly_signed_junk()
    for candidate in candidates:
        with pytest.raises(TokenError):
            CODEC.decode(candidate, "join", now=1000.0)


def _validly_signed_junk() -> list[str]:
    def signed(body: str) -> str:
        return f"{body}.{CODEC._sign(body)}"

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return [
        signed("é"),
        signed("!!!!"),
        signed("a"),  # impossible base64 length
        signed(b64(b"\xff\xfe")),  # not UTF-8
        signed(b64(b"[1, 2]")),
        signed(b64(b'"text"')),
        signed(b64(b'{"p": "join", "exp": 1e999}')),
        signed(b64(b'{"p": "join", "exp": "2999"}')),
        signed(b64(b"[" * 5000 + b"]" * 5000)),
    ]


def test_token_with_a_huge_expiry_is_still_checked_for_purpose() -> None:
    token = CODEC.encode("join", {"u": "x"}, now=0.0, lifetime=2.0**62)
    assert CODEC.decode(token, "join", now=1000.0)["u"] == "x"
    with pytest.raises(TokenError):
        CODEC.decode(token, "admin", now=1000.0)


BUTTONS = ActionSigner(SIGNER, "https://meetbridge.example.com/api/mattermost/action")


@pytest.mark.parametrize("junk", HOSTILE)
def test_button_context_with_non_ascii_signature_is_refused(junk: str) -> None:
    button = BUTTONS.button("Join", "join", CHANNEL, "t", USER)
    context = dict(button["integration"]["context"])
    assert BUTTONS.verify(context, CHANNEL, USER) is not None
    for key in ("signature", "action", "channel_id", "target", "user_id"):
        forged = {**context, key: junk}
        assert BUTTONS.verify(forged, junk if key == "channel_id" else CHANNEL, USER) is None


CREDENTIALS = PexipCredentials(username="meetbridge", password="s3cret", created_at=0.0)


@pytest.mark.parametrize(
    "header",
    [
        "Basic é",
        "é",
        "Basic " + base64.b64encode("meetbridge:s3crét".encode()).decode(),
        "Basic " + base64.b64encode(b"meetbridge:\xff\xfe").decode(),
        "Basic \x00",
        "Basic " + "A" * 100_000,
        "basic",
        "\ud800",
    ],
)
def test_basic_auth_refuses_malformed_headers(header: str) -> None:
    assert BasicAuthChecker().check(header, CREDENTIALS) is False


def test_basic_auth_accepts_other_spellings_of_the_right_credentials() -> None:
    token = base64.b64encode(b"meetbridge:s3cret").decode()
    checker = BasicAuthChecker()
    assert checker.check(f"Basic {token}", CREDENTIALS)
    assert checker.check(f"  bAsIc   {token} ", CREDENTIALS)


@pytest.mark.parametrize("given", ["v0=é", "é", "\x00", "v0=" + "ÿ" * 64])
def test_zoom_webhook_signature_compare_refuses_non_ascii(given: str) -> None:
    refused = webhooks.refusal(
        "secret", b"1000", b"{}", given.encode("utf-8", "surrogatepass"), 1000.0
    )
    assert refused == "bad signature"


# --- whatever the text: property-based -------------------------------------------------------


@settings(max_examples=300)
@given(message=st.text(), signature=st.text())
def test_signer_verify_never_raises(message: str, signature: str) -> None:
    assert SIGNER.verify(message, signature) is (SIGNER.sign(message) == signature)


@settings(max_examples=300)
@given(tag=st.text() | st.from_regex(r"mbu\.[a-z0-9]{26}\..{24}", fullmatch=True))
def test_user_from_call_tag_never_raises(tag: str) -> None:
    assert user_from_call_tag(SIGNER, tag, CHANNEL) is None


@settings(max_examples=300)
@given(token=st.text(max_size=3000) | st.from_regex(r"[A-Za-z0-9_-]{0,60}\..{0,50}"))
def test_token_decode_raises_only_token_error(token: str) -> None:
    with pytest.raises(TokenError):
        CODEC.decode(token, "join", now=1000.0)


@settings(max_examples=300)
@given(header=st.text())
def test_basic_auth_never_raises(header: str) -> None:
    assert BasicAuthChecker().check(header, CREDENTIALS) is False


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300)
@given(
    document=st.fixed_dictionaries(
        {},
        optional={
            "node": _json,
            "seq": st.integers() | _json,
            "version": st.sampled_from([1, 2]) | _json,
            "time": st.floats(allow_nan=False) | _json,
            "event": st.sampled_from(["eventsink_bulk", "participant_connected"]) | _json,
            "data": _json,
        },
    )
)
def test_parse_body_raises_only_envelope_error(document: dict[str, object]) -> None:
    try:
        body = orjson.dumps(document)
    except TypeError:  # integers beyond 64 bits: orjson cannot even write them
        return
    with contextlib.suppress(EnvelopeError):
        parse_body(body)

from __future__ import annotations

import pytest

from meetbridge.domain.commands import Verb, mentioned_username, parse_meet
from meetbridge.domain.tokens import TokenCodec, TokenError
from meetbridge.domain.views import describe_duration

CODEC = TokenCodec(b"k" * 32)


def test_tokens_round_trip_and_refuse_everything_else() -> None:
    token = CODEC.encode("join", {"u": "user"}, now=1000.0, lifetime=60)
    assert CODEC.decode(token, "join", now=1059.0)["u"] == "user"
    with pytest.raises(TokenError, match="expired"):
        CODEC.decode(token, "join", now=1061.0)
    with pytest.raises(TokenError, match="not valid here"):
        CODEC.decode(token, "admin-login", now=1000.0)
    with pytest.raises(TokenError, match="not issued"):
        TokenCodec(b"x" * 32).decode(token, "join", now=1000.0)
    body, signature = token.split(".")
    with pytest.raises(TokenError):
        CODEC.decode(f"{body}x.{signature}", "join", now=1000.0)
    for junk in ("", ".", "abc", "a.b", "x" * 3000):
        with pytest.raises(TokenError):
            CODEC.decode(junk, "join", now=1000.0)


@pytest.mark.parametrize(
    ("text", "verb", "argument", "unknown"),
    [
        ("", Verb.START, "", ""),
        ("   ", Verb.START, "", ""),
        ("start", Verb.START, "", ""),
        ("start Sprint review", Verb.START, "Sprint review", ""),
        ("START  Planning  ", Verb.START, "Planning", ""),
        ("join", Verb.JOIN, "", ""),
        ("status", Verb.STATUS, "", ""),
        ("link", Verb.LINK, "", ""),
        ("help", Verb.HELP, "", ""),
        ("admin disallow", Verb.ADMIN, "disallow", ""),
        ("dance now", Verb.HELP, "", "dance"),
        ("leave", Verb.LEAVE, "", ""),
        ("end", Verb.END, "", ""),
        ("host @bob", Verb.HOST, "@bob", ""),
    ],
)
def test_meet_parsing(text: str, verb: Verb, argument: str, unknown: str) -> None:
    parsed = parse_meet(text)
    assert (parsed.verb, parsed.argument, parsed.unknown) == (verb, argument, unknown)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "1 second"),
        (45, "45 seconds"),
        (60, "1 minute"),
        (749, "12 minutes"),
        (3600, "1 hour"),
        (3900, "1 hour 5 minutes"),
        (7260, "2 hours 1 minute"),
    ],
)
def test_durations_read_naturally(seconds: float, text: str) -> None:
    assert describe_duration(seconds) == text


@pytest.mark.parametrize(
    ("argument", "username"),
    [
        ("@bob", "bob"),
        (" Bob.Smith-2 ", "bob.smith-2"),
        ("", None),
        ("@", None),
        ("@bob @carol", None),
        ("@b*b", None),
        ("@" + "x" * 65, None),
        ("@bób", None),
    ],
)
def test_the_username_a_host_command_names(argument: str, username: str | None) -> None:
    assert mentioned_username(argument) == username

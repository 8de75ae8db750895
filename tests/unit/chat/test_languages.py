"""What meetbridge posts, in each reader's language, and where the language comes from."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from meetbridge.chat.mattermost.actions import ActionSigner
from meetbridge.chat.mattermost.client import MattermostClient
from meetbridge.chat.mattermost.directory import MattermostDirectory
from meetbridge.chat.mattermost.platform import OUR_STATUS_TEXTS, in_meeting_status
from meetbridge.chat.mattermost.rendering import card_post, help_text, ring_post
from meetbridge.crypto import Signer
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.markdown import escape_markdown as md
from meetbridge.domain.messages import ENGLISH, Messages
from meetbridge.domain.recording import recording_message
from meetbridge.domain.transcript import Line, transcript_message
from meetbridge.domain.views import MeetingCard, RingCard, RingState, describe_duration
from meetbridge.services.join import Refusal
from meetbridge.services.meeting_chat import thread_line

BUTTONS = ActionSigner(Signer(b"b" * 32), "https://mb.example.com/api/mattermost/action")
CH = ChannelId("c" * 26)
USER = UserId("u" * 26)
GERMAN = Messages("de")


def card(**changes: Any) -> MeetingCard:
    fields: dict[str, Any] = {
        "meeting_id": 7,
        "channel_id": CH,
        "engine": "Pexip Infinity",
        "topic": "Planung",
        "started_by": "Alice Archer",
        "started_at": 1000.0,
        "ended_at": None,
        "participants": ("Alice Archer", "bob"),
        "attendees": ("Alice Archer", "bob"),
        "can_end": True,
    }
    return MeetingCard(**{**fields, **changes})


def titles(post: dict[str, Any]) -> dict[str, str]:
    return {f["title"]: f["value"] for f in post["props"]["attachments"][0]["fields"]}


def test_a_german_live_card_speaks_german_and_keeps_its_machine_read_props() -> None:
    english, german = card_post(card(), BUTTONS), card_post(card(locale="de"), BUTTONS)
    assert german["message"] == "Alice Archer hat eine Videobesprechung gestartet: Planung."
    assert titles(german)["In der Besprechung (2)"] == "Alice Archer, bob"
    attachment = german["props"]["attachments"][0]
    assert attachment["title"] == "Videobesprechung läuft: Planung"
    assert [a["name"] for a in attachment["actions"]] == ["Teilnehmen", "Verlassen", "Beenden"]
    # The buttons do the same; everything a program reads is the same in every language.
    english_actions = english["props"]["attachments"][0]["actions"]
    assert [a["id"] for a in attachment["actions"]] == [a["id"] for a in english_actions]
    machine_read = {k: v for k, v in german["props"].items() if k != "attachments"}
    assert machine_read == {k: v for k, v in english["props"].items() if k != "attachments"}


def test_a_german_ended_card_says_how_long_in_german() -> None:
    post = card_post(card(ended_at=1000.0 + 61 * 60, locale="de"), BUTTONS)
    assert post["message"] == "Videobesprechung beendet: Planung. Sie dauerte 1 Stunde 1 Minute."
    assert titles(post)["Teilgenommen haben (2)"] == "Alice Archer, bob"


def test_user_text_in_a_german_card_is_still_escaped_and_never_a_template() -> None:
    topic = "**@channel** {count}"
    post = card_post(card(topic=topic, locale="de"), BUTTONS)
    assert post["message"] == f"Alice Archer hat eine Videobesprechung gestartet: {md(topic)}."
    assert "@channel" not in post["message"]


def test_each_ring_state_reads_in_the_callees_language() -> None:
    def ring(state: RingState, locale: str) -> dict[str, Any]:
        view = RingCard(1, USER, CH, "Direktnachricht", "alice", state, 5.0, locale)
        return ring_post(view, "d" * 26, BUTTONS)

    ringing = ring(RingState.RINGING, "de")
    assert ringing["message"] == ":telephone_receiver: **alice** ruft Sie an (Direktnachricht)."
    actions = ringing["props"]["attachments"][0]["actions"]
    assert [a["name"] for a in actions] == ["Teilnehmen", "Ignorieren"]
    assert ring(RingState.MISSED, "de")["message"].startswith(
        ":no_mobile_phones: Verpasster Anruf von **alice**"
    )
    assert ring(RingState.ANSWERED, "de")["props"]["ring_state"] == "answered"
    assert ring(RingState.RINGING, "en")["message"].startswith(
        ":telephone_receiver: **alice** is calling you"
    )


def test_help_is_german_for_german_readers_and_keeps_the_command_words() -> None:
    german = help_text(True, "tanzen", GERMAN)
    assert german.startswith("`tanzen` ist kein /meet-Befehl.\n\n**/meet** — Videobesprechungen")
    assert "`/meet admin allow`" in german  # commands are not translated
    assert help_text(False).startswith("**/meet** — video meetings in this channel")
    assert "/meet admin" not in help_text(False, texts=GERMAN)


def test_durations_in_german() -> None:
    assert describe_duration(1, GERMAN) == "1 Sekunde"
    assert describe_duration(45, GERMAN) == "45 Sekunden"
    assert describe_duration(2 * 3600 + 60, GERMAN) == "2 Stunden 1 Minute"
    assert describe_duration(2 * 3600 + 60) == "2 hours 1 minute"


def test_thread_notices_in_german() -> None:
    assert recording_message(65.4, 2_500_000, "", GERMAN) == (
        "Aufnahme dieser Besprechung (1:05, 2.4 MB)."
    )
    cut = recording_message(65.4, 900, GERMAN("recording.cut_short"), GERMAN)
    assert cut.endswith("\n**Unvollständig:** " + GERMAN("recording.cut_short"))
    lines = [Line(start=0.0, end=1.0, speaker=f"S{n}", text="Hallo") for n in range(7)]
    assert transcript_message(lines, False, GERMAN) == (
        "Transkript der Aufnahme dieser Besprechung (S0, S1, S2, S3, S4 und 2 weitere)."
    )
    assert thread_line("bob", "@all hallo", GERMAN) == (
        "**bob** (in der Besprechung): \\@\u200ball hallo"
    )


class FakeMattermost:
    """Answers the user and client-configuration look-ups the directory makes, and counts them."""

    def __init__(self, default_locale: object = "de", user_locale: object = "de") -> None:
        self.default_locale, self.user_locale = default_locale, user_locale
        self.config_reads = 0
        self.down = False

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if self.down:
            return httpx2.Response(503, json={"message": "down"})
        if request.url.path == "/api/v4/config/client":
            assert request.url.params["format"] == "old"
            self.config_reads += 1
            return httpx2.Response(200, json={"DefaultClientLocale": self.default_locale})
        if request.url.path == f"/api/v4/users/{USER}":
            return httpx2.Response(
                200, json={"id": USER, "username": "greta", "locale": self.user_locale}
            )
        return httpx2.Response(404, json={"message": request.url.path})


class Clock:
    def __init__(self) -> None:
        self.at = 1000.0

    def now(self) -> float:
        return self.at


def directory(fake: FakeMattermost, clock: Clock) -> MattermostDirectory:
    http = httpx2.AsyncClient(base_url="http://mm.test", transport=httpx2.MockTransport(fake))
    return MattermostDirectory(MattermostClient(http), clock)


async def test_the_servers_default_language_is_read_once_and_cached_briefly() -> None:
    fake, clock = FakeMattermost(default_locale="de"), Clock()
    found = directory(fake, clock)
    assert await found.default_locale() == "de"
    assert await found.default_locale() == "de"
    assert fake.config_reads == 1
    clock.at += 301  # past the directory's five minutes
    fake.default_locale = "en"
    assert await found.default_locale() == "en"
    assert fake.config_reads == 2


async def test_an_unreachable_server_reads_english_and_a_known_language_survives_an_outage() -> (
    None
):
    fake, clock = FakeMattermost(default_locale="de"), Clock()
    fake.down = True
    assert await directory(fake, clock).default_locale() == "en"
    fake.down = False
    found = directory(fake, clock)
    assert await found.default_locale() == "de"
    clock.at += 301
    fake.down = True
    assert await found.default_locale() == "de", "stale beats unknown, as for other look-ups"


@pytest.mark.parametrize("hostile", [None, 7, ["de"], {"de": 1}, "", "<script>"])
async def test_a_malformed_locale_from_the_server_reads_english(hostile: object) -> None:
    fake = FakeMattermost(default_locale=hostile, user_locale=hostile)
    found = directory(fake, Clock())
    assert Messages(await found.default_locale()).locale == "en"
    user = await found.user(USER)
    assert user is not None and Messages(user.locale).locale == "en"


async def test_the_users_locale_comes_with_the_cached_user() -> None:
    user = await directory(FakeMattermost(user_locale="de-DE"), Clock()).user(USER)
    assert user is not None and user.locale == "de-DE"
    assert Messages(user.locale).locale == "de"


def test_the_in_meeting_status_is_in_the_users_language_and_recognised_in_any() -> None:
    assert in_meeting_status("de") == {
        "emoji": "calendar",
        "text": "In einer Videokonferenz",
        "duration": "",
    }
    assert in_meeting_status("fr")["text"] == "In a video conference"
    # Set in German, restored after the user switched to English: still meetbridge's own.
    assert {"In a video conference", "In einer Videokonferenz"} <= OUR_STATUS_TEXTS


@pytest.mark.parametrize("refusal", list(Refusal))
def test_every_join_refusal_has_a_translation_that_reads_as_before_in_english(
    refusal: Refusal,
) -> None:
    key = f"refusal.{refusal.name.lower()}"
    assert ENGLISH(key) == refusal.value
    assert GERMAN(key) != refusal.value

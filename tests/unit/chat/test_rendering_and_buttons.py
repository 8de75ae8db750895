from __future__ import annotations

from meetbridge.chat.mattermost.actions import ActionSigner
from meetbridge.chat.mattermost.rendering import card_post, help_text, ring_post
from meetbridge.crypto import Signer
from meetbridge.domain.ids import ChannelId, UserId
from meetbridge.domain.views import MeetingCard, RingCard, RingState

BUTTONS = ActionSigner(Signer(b"b" * 32), "https://mb.example.com/api/mattermost/action")
CH = ChannelId("c" * 26)


def card(**changes: object) -> MeetingCard:
    fields = {
        "meeting_id": 7,
        "channel_id": CH,
        "engine": "Pexip Infinity",
        "topic": "Planning",
        "started_by": "Alice Archer",
        "started_at": 1000.0,
        "ended_at": None,
        "participants": ("Alice Archer", "bob"),
        "attendees": ("Alice Archer", "bob"),
    }
    fields.update(changes)
    return MeetingCard(**fields)  # type: ignore[arg-type]


def test_a_live_card_lists_people_and_offers_join_and_leave() -> None:
    post = card_post(card(), BUTTONS)
    assert post["message"] == "Alice Archer started a video meeting: Planning."
    attachment = post["props"]["attachments"][0]
    assert {f["title"]: f["value"] for f in attachment["fields"]}[
        "In the meeting (2)"
    ] == "Alice Archer, bob"
    actions = attachment["actions"]
    assert [a["name"] for a in actions] == ["Join", "Leave"]
    assert all(a["id"].isalnum() for a in actions)
    assert (
        post["props"]["meeting_status"] == "STARTED" and post["props"]["meetbridge_meeting_id"] == 7
    )


def test_an_ended_card_says_how_long_and_who_came() -> None:
    post = card_post(card(ended_at=1000.0 + 12 * 60, participants=()), BUTTONS)
    assert post["message"] == "Video meeting ended: Planning. It lasted 12 minutes."
    attachment = post["props"]["attachments"][0]
    assert "actions" not in attachment
    assert {f["title"]: f["value"] for f in attachment["fields"]}[
        "Attended by (2)"
    ] == "Alice Archer, bob"


def test_buttons_verify_only_where_and_for_whom_they_were_made() -> None:
    button = BUTTONS.button("Ignore", "ring_ignore", CH, "5", UserId("u" * 26))
    context = button["integration"]["context"]
    verified = BUTTONS.verify(context, CH, "u" * 26)
    assert verified is not None and (verified.action, verified.target) == ("ring_ignore", "5")
    assert BUTTONS.verify(context, "d" * 26, "u" * 26) is None  # another channel
    assert BUTTONS.verify(context, CH, "v" * 26) is None  # another user
    assert BUTTONS.verify({**context, "target": "6"}, CH, "u" * 26) is None
    assert ActionSigner(Signer(b"x" * 32), "").verify(context, CH, "u" * 26) is None
    for junk in (None, "x", {}, {**context, "signature": 5}):
        assert BUTTONS.verify(junk, CH, "u" * 26) is None


def test_ring_messages_by_state() -> None:
    ring = RingCard(3, UserId("u" * 26), CH, "direct message", "Alice", RingState.RINGING)
    ringing = ring_post(ring, "d" * 26, BUTTONS)
    assert "**Alice** is calling you" in ringing["message"]
    assert [a["name"] for a in ringing["props"]["attachments"][0]["actions"]] == ["Join", "Ignore"]
    missed = ring_post(
        RingCard(3, UserId("u" * 26), CH, "direct message", "Alice", RingState.MISSED),
        "d" * 26,
        BUTTONS,
    )
    assert "Missed call from **Alice**" in missed["message"]
    assert "actions" not in missed["props"]["attachments"][0]


def test_help_mentions_admin_commands_only_to_admins() -> None:
    assert "/meet admin" not in help_text(is_admin=False)
    assert "/meet admin" in help_text(is_admin=True)


HOSTILE = "@all [Recording ready](https://evil.example) ~town-square"


def _all_text(post: dict[str, object]) -> list[str]:
    props = post["props"]
    assert isinstance(props, dict)
    attachment = props["attachments"][0]
    texts = [str(post["message"])]
    texts += [str(attachment.get(key, "")) for key in ("title", "text", "pretext")]
    for field in attachment.get("fields", []):
        texts += [str(field["title"]), str(field["value"])]
    return texts


def _assert_inert(post: dict[str, object]) -> None:
    for text in _all_text(post):
        assert "](" not in text, text
        assert "@all" not in text and "~town" not in text, text
    # The fallback is plain text (notifications): no Markdown to fear, but no mention either.
    fallback = post["props"]["attachments"][0]["fallback"]  # type: ignore[index]
    assert "@all" not in fallback and "~town" not in fallback and "@here" not in fallback


def test_a_hostile_topic_and_names_render_without_links_or_mentions() -> None:
    for ended_at in (None, 2000.0):
        post = card_post(
            card(
                topic=HOSTILE,
                started_by="@here *x*",
                participants=("@channel", "[a](https://evil.example)"),
                attendees=("@alice",),
                ended_at=ended_at,
            ),
            BUTTONS,
        )
        _assert_inert(post)
        assert post["props"]["disable_group_highlight"] is True
        assert post["props"]["meeting_topic"] == HOSTILE  # props are data, not Markdown


def test_a_hostile_caller_and_conversation_render_without_links_or_mentions() -> None:
    for state in RingState:
        ring = RingCard(
            ring_id=3,
            callee_id=UserId("u" * 26),
            meeting_channel_id=CH,
            conversation=HOSTILE,
            caller="@all [x](https://evil.example)",
            state=state,
        )
        _assert_inert(ring_post(ring, CH, BUTTONS))


def test_a_zoom_card_links_only_the_join_url_it_is_given() -> None:
    post = card_post(
        card(engine="Zoom", engine_key="zoom", join_url="https://zoom.us/j/1", roster=False),
        BUTTONS,
    )
    assert post["props"]["attachments"][0]["text"] == "[Join Meeting](https://zoom.us/j/1)"
    refused = card_post(card(engine="Zoom", engine_key="zoom", join_url="", roster=False), BUTTONS)
    assert "](" not in refused["props"]["attachments"][0].get("text", "")
    assert [a["name"] for a in refused["props"]["attachments"][0]["actions"]] == ["Join"]


def test_a_live_card_of_an_engine_that_can_end_offers_end_to_the_channel() -> None:
    post = card_post(card(engine="LiveKit", can_end=True), BUTTONS)
    actions = post["props"]["attachments"][0]["actions"]
    assert [a["name"] for a in actions] == ["Join", "Leave", "End"]
    assert actions[2]["style"] == "danger"
    ended = card_post(card(can_end=True, ended_at=2000.0), BUTTONS)
    assert "actions" not in ended["props"]["attachments"][0]


def test_a_card_says_leave_cannot_reach_the_engines_own_app_only_where_people_may_use_one() -> None:
    pexip = card_post(card(own_apps=True), BUTTONS)["props"]["attachments"][0]
    assert pexip["footer"] == (
        "Leave closes meetbridge's meeting page. "
        "In Pexip Infinity's own app, leave with its Disconnect button."
    )
    livekit = card_post(card(engine="LiveKit"), BUTTONS)["props"]["attachments"][0]
    assert "footer" not in livekit
    ended = card_post(card(own_apps=True, ended_at=2000.0), BUTTONS)["props"]["attachments"][0]
    assert "footer" not in ended, "nothing to leave once it is over"
    # The companion plugin draws the same note in the reader's language, from a prop.
    assert card_post(card(own_apps=True), BUTTONS)["props"]["meeting_own_apps"] is True
    assert "meeting_own_apps" not in card_post(card(engine="LiveKit"), BUTTONS)["props"]


def test_cards_carry_the_zoom_plugins_props_and_what_the_companion_plugin_draws() -> None:
    alice_id = "a" * 26
    live = card_post(
        card(started_by_username="alice", participant_ids=(alice_id, "")),
        BUTTONS,
        "https://mb.example.com/meet/c",
    )
    props = live["props"]
    assert props["meeting_provider"] == "Pexip Infinity"
    assert props["meeting_status"] == "STARTED"
    assert props["meeting_topic"] == "Planning"
    assert props["meeting_creator_username"] == "alice"
    assert props["meeting_link"] == "https://mb.example.com/meet/c"  # the channel's lasting link
    assert props["meeting_started_at"] == 1_000_000
    assert props["meeting_participants"] == [
        {"name": "Alice Archer", "user_id": alice_id},
        {"name": "bob", "user_id": ""},  # a guest: no avatar
    ]
    assert "meeting_duration" not in props
    ended = card_post(card(ended_at=1000.0 + 90, participants=()), BUTTONS)["props"]
    assert ended["meeting_status"] == "ENDED"
    names = [person["name"] for person in ended["meeting_participants"]]
    assert names == ["Alice Archer", "bob"]  # who attended
    assert ended["meeting_duration"] == "2 minutes"
    assert "meeting_link" not in ended  # no lasting link given: none made up


def test_an_engines_own_join_link_is_the_cards_meeting_link() -> None:
    zoom = card(join_url="https://zoom.example.com/j/1", engine="Zoom", roster=False)
    props = card_post(zoom, BUTTONS, "https://mb.example.com/meet/c")["props"]
    assert props["meeting_link"] == "https://zoom.example.com/j/1"
    assert props["meeting_participants"] == []  # Zoom reports no roster

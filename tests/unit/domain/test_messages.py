"""The message catalogue: every language says every message with the same values, and the
reader's Mattermost locale picks the language (English when meetbridge does not ship it)."""

from __future__ import annotations

import asyncio
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetbridge.domain.locales import de, en
from meetbridge.domain.messages import (
    CATALOGUES,
    ENGLISH,
    Messages,
    answering_in,
    reader,
    supported_locale,
    translate,
)

DIALOG_TITLE_LIMIT = 24  # Mattermost refuses a longer interactive-dialog title
LONGEST_ENGINE_TITLE = "Pexip Infinity"
# Only engines with personal accounts (Zoom alone today) get these dialogs.
ACCOUNT_DIALOGS = {"dialog.disconnect_title": "Zoom", "dialog.settings_title": "Zoom"}


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


@pytest.mark.parametrize("locale", sorted(set(CATALOGUES) - {"en"}))
def test_every_language_has_every_english_key_and_no_other(locale: str) -> None:
    assert sorted(set(en.MESSAGES) - set(CATALOGUES[locale])) == []
    assert sorted(set(CATALOGUES[locale]) - set(en.MESSAGES)) == []


@pytest.mark.parametrize("locale", sorted(CATALOGUES))
def test_every_translation_uses_the_same_placeholders_as_english(locale: str) -> None:
    differing = {
        key: (placeholders(en.MESSAGES[key]), placeholders(template))
        for key, template in CATALOGUES[locale].items()
        if placeholders(template) != placeholders(en.MESSAGES[key])
    }
    assert differing == {}


def test_german_is_a_translation_not_a_copy() -> None:
    same = [key for key, text in de.MESSAGES.items() if text == en.MESSAGES[key]]
    # Only words that German writes as English does (e.g. none today) may stay the same.
    assert same == []


@pytest.mark.parametrize("locale", sorted(CATALOGUES))
def test_dialog_titles_fit_mattermost_with_the_longest_engine_title(locale: str) -> None:
    for key, template in CATALOGUES[locale].items():
        if key.startswith("dialog.") and key.endswith("_title"):
            title = template.format(engine=ACCOUNT_DIALOGS.get(key, LONGEST_ENGINE_TITLE))
            assert len(title) <= DIALOG_TITLE_LIMIT, (locale, key, title)


@pytest.mark.parametrize(
    ("mattermost_locale", "shipped"),
    [
        ("de", "de"),
        ("DE", "de"),
        ("de-DE", "de"),
        ("de_AT", "de"),
        (" de ", "de"),
        ("en", "en"),
        ("en-AU", "en"),
        ("pt-br", "en"),
        ("zh-CN", "en"),
        ("", "en"),
        ("../de", "en"),
        ("de-" + "x" * 40, "en"),
        (None, "en"),
        (7, "en"),
    ],
)
def test_mattermost_locales_map_onto_a_shipped_catalogue(
    mattermost_locale: object, shipped: str
) -> None:
    assert supported_locale(mattermost_locale) == shipped


def test_german_reader_gets_german_with_values_filled_in() -> None:
    assert Messages("de")("ring.missed", caller="alice", where="Direktnachricht") == (
        ":no_mobile_phones: Verpasster Anruf von **alice** (Direktnachricht)."
    )


def test_unshipped_locale_reads_english() -> None:
    assert Messages("fr")("button.join") == "Join"
    assert Messages("fr").locale == "en"


def test_key_missing_from_a_language_falls_back_to_english(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(de.MESSAGES, "button.join")
    assert translate("de", "button.join") == "Join"


def test_broken_translation_falls_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(de.MESSAGES, "card.in_meeting", "In der Besprechung ({anzahl})")
    assert translate("de", "card.in_meeting", count=2) == "In the meeting (2)"


def test_counted_messages_choose_singular_or_plural() -> None:
    assert ENGLISH.count("hours", 1) == "1 hour"
    assert ENGLISH.count("hours", 3) == "3 hours"
    assert Messages("de").count("hours", 1) == "1 Stunde"
    assert Messages("de").count("hours", 0) == "0 Stunden"


@given(st.text(max_size=200))
def test_user_text_in_a_value_is_inserted_literally(text: str) -> None:
    # Braces or format specs typed by a user are data, never a template.
    assert Messages("de")("meet.not_present", username=text) == (
        f"@{text} ist nicht in dieser Besprechung."
    )


def test_the_reader_is_english_unless_someone_is_being_answered() -> None:
    assert reader().locale == "en"
    with answering_in(Messages("de")):
        assert reader()("recording.started").startswith("Die Aufnahme läuft.")
    assert reader().locale == "en"


async def test_concurrent_answers_keep_their_own_languages() -> None:
    async def answer(locale: str, gate: asyncio.Event) -> str:
        with answering_in(Messages(locale)):
            await gate.wait()  # both are inside their block at once
            return reader()("button.join")

    gate = asyncio.Event()
    german = asyncio.create_task(answer("de", gate))
    english = asyncio.create_task(answer("en", gate))
    await asyncio.sleep(0)
    gate.set()
    assert (await german, await english) == ("Teilnehmen", "Join")

"""User-controlled text in bot posts: shown literally, never as Markdown, never as a mention."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetbridge.domain.markdown import (
    ZERO_WIDTH_SPACE,
    escape_markdown,
    plain_text,
    safe_link_target,
)

ZW = ZERO_WIDTH_SPACE
# An unescaped Markdown character: one not preceded by a backslash.
_UNESCAPED = re.compile(r"(?<!\\)[\[\]()*_`#|<>!~&$]")


def shown(escaped: str) -> str:
    """What a reader sees once Markdown has undone the backslash escapes and hidden the ZWSPs."""
    return re.sub(r"\\(.)", r"\1", escaped).replace(ZW, "")


def test_a_link_is_shown_as_text_not_linked() -> None:
    escaped = escape_markdown("[Recording ready](https://evil.example)")
    assert "](" not in escaped
    assert not _UNESCAPED.search(escaped)
    assert shown(escaped) == "[Recording ready](https://evil.example)"


def test_an_image_is_shown_as_text() -> None:
    escaped = escape_markdown("![pixel](https://evil.example/track.png)")
    assert "![" not in escaped and "](" not in escaped
    assert shown(escaped) == "![pixel](https://evil.example/track.png)"


@pytest.mark.parametrize(
    "text",
    ["*bold*", "**bold**", "_it_", "__it__", "~~gone~~", "`code`", "```block```", "$x^2$"],
)
def test_emphasis_code_strike_and_latex_are_shown_literally(text: str) -> None:
    escaped = escape_markdown(text)
    assert not _UNESCAPED.search(escaped)
    assert shown(escaped) == text


def test_a_table_cannot_be_started_on_a_new_line() -> None:
    escaped = escape_markdown("a | b\n--|--\n1 | 2")
    assert "\n" not in escaped
    assert "|" not in escaped.replace("\\|", "")


@pytest.mark.parametrize("text", ["# Heading", "> quote", "- item", "1. item", "+ item"])
def test_block_markup_at_the_start_is_neutralised(text: str) -> None:
    escaped = escape_markdown(text)
    assert escaped[0] == "\\" or (escaped[0].isdigit() and escaped[1] == "\\")


def test_html_and_entities_are_shown_literally() -> None:
    escaped = escape_markdown("<img src=x onerror=alert(1)> &lt;b&gt;")
    assert "<" not in escaped.replace("\\<", "")
    assert "&" not in escaped.replace("\\&", "")
    assert shown(escaped) == "<img src=x onerror=alert(1)> &lt;b&gt;"


@pytest.mark.parametrize(
    "text",
    ["<https://evil.example>", "https://evil.example/x", "www.evil.example", "mail@evil.example"],
)
def test_autolinks_are_broken(text: str) -> None:
    escaped = escape_markdown(text)
    assert "://" not in escaped
    assert "www." not in escaped
    assert "@evil" not in escaped
    assert shown(escaped) == text


@pytest.mark.parametrize("mention", ["@all", "@here", "@channel", "@alice", "@ALL", "@all."])
def test_mentions_are_neutralised(mention: str) -> None:
    escaped = escape_markdown(f"hello {mention} there")
    # Mattermost finds mentions as "@" followed by letters, digits, ".", "-", "_".
    assert not re.search(r"@[\w.\-]", escaped)
    assert shown(escaped) == f"hello {mention} there"


def test_a_channel_link_is_neutralised() -> None:
    escaped = escape_markdown("see ~town-square")
    assert not re.search(r"~[\w\-]", escaped.replace("\\~", "~" + ZW))
    assert shown(escaped) == "see ~town-square"


@pytest.mark.parametrize(
    "trick",
    [
        "@\u200ball",  # zero-width space inside the mention
        "@a\u200cl\u200dl",  # zero-width (non-)joiners
        "@\u2060here",  # word joiner
        "@\ufeffchannel",  # byte-order mark
        "\u202e@lla",  # right-to-left override
        "[x]\u200b(https://evil.example)",
    ],
)
def test_invisible_characters_cannot_smuggle_markup(trick: str) -> None:
    escaped = escape_markdown(trick)
    for invisible in "\u200c\u200d\u2060\ufeff\u202e":
        assert invisible not in escaped
    assert not re.search(r"@[\w.\-]", escaped)
    assert not _UNESCAPED.search(escaped)


def test_line_breaks_become_spaces_and_control_characters_go() -> None:
    assert escape_markdown("a\nb\r\nc\u2028d\x00e\tf") == "a b c de f"


def test_ordinary_names_are_unchanged() -> None:
    assert escape_markdown("Alice Archer") == "Alice Archer"
    assert escape_markdown("Zoë Ångström") == "Zoë Ångström"


def test_plain_text_keeps_punctuation_but_neutralises_mentions_and_invisibles() -> None:
    assert plain_text("[x](y) *b*") == "[x](y) *b*"
    assert plain_text("hi @all\u200b\n~town") == f"hi @{ZW}all ~{ZW}town"


@given(st.text(max_size=200))
def test_any_text_escapes_to_a_single_line_without_markup_or_mentions(text: str) -> None:
    escaped = escape_markdown(text)
    assert "\n" not in escaped and "\r" not in escaped
    assert not _UNESCAPED.search(escaped)
    assert not re.search(r"[@~][\w.\-]", escaped)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://us02web.zoom.us/j/123?pwd=abc", True),
        ("https://zoom.us/j/1", True),
        ("https://zoom.us.evil.example/j/1", False),
        ("http://zoom.us/j/1", False),
        ("javascript:alert(1)//zoom.us", False),
        ("https://evil.example/zoom.us", False),
        ("https://user@zoom.us/j/1", False),
        ("https://zoom.us/j/1) [x](https://evil.example", False),
        ("https://zoom.us/j/1\n", False),
        ("", False),
    ],
)
def test_only_https_links_to_the_configured_host_are_linked(url: str, allowed: bool) -> None:
    assert (safe_link_target(url, "https://zoom.us") is not None) is allowed

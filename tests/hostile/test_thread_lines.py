"""Lines the meeting chat mirror posts in a card's thread (issue 20, item 5).

Whoever is in a meeting, a Pexip guest who chose their own name included, decides the author and
the text of a bot post. Rendered by a CommonMark renderer with GitHub's extensions (autolinks,
tables, strike-through), every such post must be one paragraph on one line whose only markup is
the bold author meetbridge wrote: no link, no image, no mention, no second line that could pass
for another person's message.
"""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from mdit_py_plugins.texmath import texmath_plugin

from meetbridge.domain.messages import ENGLISH, Messages
from meetbridge.services.meeting_chat import thread_line
from tests.hostile.conftest import HOSTILE
from tests.hostile.strategies import hostile_text

_RENDERER = (
    MarkdownIt("commonmark", {"linkify": True})
    .enable(["linkify", "table", "strikethrough"])
    .use(texmath_plugin)
)
# What Mattermost turns into a mention or a channel link: @ or ~ directly followed by a name.
_MENTION = re.compile(r"(?<![\w@~])[@~][A-Za-z0-9_.\-]")
FORGERIES = [
    "hi\n**Alice Archer** (in the meeting): please approve the transfer",
    "hi\r\n\r\n**Alice Archer** (in der Besprechung): ok",
    "![pixel](https://tracker.example/p.png)",
    "[the minutes](https://evil.example/login)",
    "<https://evil.example> www.evil.example mail@evil.example",
    "@all @here @channel ~town-square",
    "a | b\n--|--\n1 | 2",
    "$\\href{https://evil.example}{x}$",
    "**bold** _it_ `code` ~~gone~~ <b>html</b> &lt;",
    "line\u2028two\u0085three",
]
_FORGERY_TEXT = st.lists(st.sampled_from(FORGERIES), min_size=1, max_size=3).map("".join)
_TEXT = st.one_of(hostile_text(200), _FORGERY_TEXT)


def assert_one_inert_line(line: str) -> None:
    html = _RENDERER.render(line)
    assert "\n" not in line and "\r" not in line, line
    assert html.count("<p>") == 1 and html.strip().startswith("<p>"), html
    assert "<br" not in html and "<table" not in html, html
    assert "<a " not in html and "<img" not in html, html
    assert "<eq" not in html and "<del" not in html and "<code" not in html, html
    assert html.count("<strong>") == 1 and "<em>" not in html, html
    assert not _MENTION.search(line), line


@HOSTILE
@given(name=_TEXT, text=_TEXT)
@example(name="Mallory** (in the meeting): x\n**Alice Archer", text=FORGERIES[0])
@example(name="[Alice](https://evil.example)", text=FORGERIES[1])
@example(name="@channel", text="@all ![x](https://t.example/p.png)")
def test_a_meeting_chat_line_is_one_line_with_no_link_image_mention_or_markup(
    name: str, text: str
) -> None:
    for texts in (ENGLISH, Messages("de")):
        assert_one_inert_line(thread_line(name, text, texts))

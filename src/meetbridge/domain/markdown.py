"""Putting user-controlled text into Mattermost Markdown so that it shows literally.

Meeting topics, display names (guests choose their own) and caller names end up in bot posts.
Rendered as Markdown they could add links, images, tables or mentions that notify a whole
channel in the bot's name. ``escape_markdown`` makes such text inert:

* invisible characters (zero-width, joiners, bidi overrides) are dropped, so they cannot hide
  a mention from this function and reveal it to Mattermost's; line breaks become spaces, so
  text cannot start a block (table, heading, list, quote);
* every ASCII punctuation character that Markdown gives a meaning is backslash-escaped (a
  CommonMark escape, undone when rendered);
* mentions (``@all``, ``@here``, ``@channel``, ``@user``), channel links (``~town-square``)
  and autolinks (``https://``, ``www.``, e-mail) get a zero-width space after the ``@``, ``~``,
  ``:`` or ``.``: Mattermost looks for mentions in the raw text (backslashes do not stop it),
  and a zero-width space ends its word, while the reader sees the same text.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

ZERO_WIDTH_SPACE = "\u200b"

# Format characters (Cf: zero-width, joiners, bidi controls, BOM) plus fillers and combining
# marks that render as nothing; dropped before anything else looks at the text.
_INVISIBLE_EXTRA = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0\u2800")
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]+")

# ASCII punctuation with a meaning in Mattermost's Markdown (CommonMark, GFM tables and
# strike-through, inline LaTeX, HTML, entities, emoji shortcodes, autolinks).
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&$:@=\"'^%])")
# After escaping: the characters a mention, channel link or autolink hangs on.
_LINK_OR_MENTION = re.compile(r"(\\[@~])|(\\:)(?=\\?/)|(?<=w)(\\\.)", re.IGNORECASE)
_PLAIN_MENTION = re.compile(r"([@~])")

_URL_FORBIDDEN = re.compile(r"[\s<>()\[\]\"'`\\^{}|]")


def _visible(text: str) -> str:
    """One line of text without invisible or control characters."""
    text = _LINE_BREAKS.sub(" ", text)
    return "".join(
        char
        for char in text
        if char not in _INVISIBLE_EXTRA
        and unicodedata.category(char) not in ("Cf", "Cc", "Cs")
        and not ("\ufe00" <= char <= "\ufe0f")
    )


def escape_markdown(text: str) -> str:
    """``text`` as Markdown that renders it literally, with no link, markup or mention."""
    escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", _visible(text))
    return _LINK_OR_MENTION.sub(lambda m: m.group(0) + ZERO_WIDTH_SPACE, escaped)


def plain_text(text: str) -> str:
    """``text`` for a field Mattermost shows without Markdown (a notification's fallback):
    one line, no invisible characters, no mention."""
    return _PLAIN_MENTION.sub(lambda m: m.group(0) + ZERO_WIDTH_SPACE, _visible(text))


def safe_link_target(url: str, allowed_base: str) -> str | None:
    """``url`` if it may be the target of a link meetbridge posts: https, on the host of
    ``allowed_base`` or one of its subdomains (Zoom's ``us02web.zoom.us``), no user name, and
    nothing that could end the Markdown link early. None otherwise. Plain http only when the
    admin configured an http base (a self-hosted engine on a private network)."""
    if not url or _URL_FORBIDDEN.search(url) or any(ord(c) < 0x20 for c in url):
        return None
    try:
        parts, base = urlsplit(url), urlsplit(allowed_base)
        port = parts.port
    except ValueError:
        return None
    host, allowed = (parts.hostname or "").lower(), (base.hostname or "").lower()
    if parts.scheme not in {"https", base.scheme} or parts.scheme not in {"https", "http"}:
        return None
    if not allowed or parts.username is not None:
        return None
    if port not in (None, 443, base.port):
        return None
    if host != allowed and not host.endswith("." + allowed):
        return None
    return url

"""meetbridge's own words in chat, in the reader's language: a pure catalogue look-up.

Each language is a typed ``dict`` of ``key -> template`` in ``domain/locales/<code>.py``; a
template names its values as ``{placeholders}`` (``str.format``: values are inserted, never read
as templates, so user text in them cannot reach other values). A key or language that is
missing falls back to English, so an incomplete catalogue degrades to English, never to an error.

Locales follow Mattermost's codes ("en", "de", "pt-br", "zh-CN"): ``supported_locale`` maps any
of them (and "de-DE", "de_AT") onto a catalogue meetbridge ships.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Final

from meetbridge.domain.locales import de, en

DEFAULT_LOCALE: Final = "en"
CATALOGUES: Final[Mapping[str, Mapping[str, str]]] = {"en": en.MESSAGES, "de": de.MESSAGES}
_LOCALE_SHAPE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")


def supported_locale(value: object) -> str:
    """The shipped catalogue for a Mattermost locale: the exact one, else its language's, else
    English. Anything that is not a locale code (hostile or empty) is English."""
    if not isinstance(value, str):
        return DEFAULT_LOCALE
    code = value.strip().lower().replace("_", "-")
    if len(code) > 20 or not _LOCALE_SHAPE.fullmatch(code):
        return DEFAULT_LOCALE
    if code in CATALOGUES:
        return code
    language = code.split("-", 1)[0]
    return language if language in CATALOGUES else DEFAULT_LOCALE


def translate(locale: str, key: str, /, **values: object) -> str:
    """The message ``key`` in ``locale`` with ``values`` filled in (English where missing)."""
    template = CATALOGUES.get(supported_locale(locale), {}).get(key)
    if template is not None:
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            pass  # a broken translation: English says the same thing
    return en.MESSAGES[key].format(**values)


def plural(count: int) -> str:
    """The plural category of ``count`` in the shipped languages (both say "1 x", "2 xs")."""
    return "one" if count == 1 else "other"


class Messages:
    """The catalogue in one reader's language: ``texts("key", name=...)``."""

    __slots__ = ("locale",)

    def __init__(self, locale: str = DEFAULT_LOCALE) -> None:
        self.locale = supported_locale(locale)

    def __call__(self, key: str, /, **values: object) -> str:
        return translate(self.locale, key, **values)

    def count(self, key: str, count: int, /, **values: object) -> str:
        """A message with ``{count}`` whose words depend on it: ``key.one`` or ``key.other``."""
        return translate(self.locale, f"{key}.{plural(count)}", count=count, **values)

    def __repr__(self) -> str:
        return f"Messages({self.locale!r})"


ENGLISH: Final = Messages(DEFAULT_LOCALE)

# The language of the person being answered: set around each command, click and dialog by the
# chat layer, so that what services and engines say back (refusals, confirmations) reads in it
# without every call passing it on. English wherever nobody set it (web pages, workers).
_READER: ContextVar[Messages] = ContextVar("meetbridge_reader", default=ENGLISH)


def reader() -> Messages:
    """The catalogue in the language of whoever is being answered now."""
    return _READER.get()


@contextlib.contextmanager
def answering_in(texts: Messages) -> Iterator[Messages]:
    """Answer in ``texts``' language until the block ends."""
    token = _READER.set(texts)
    try:
        yield texts
    finally:
        _READER.reset(token)


DefaultLocale = Callable[[], Awaitable[str]]
"""Asks the chat platform for its default language: for posts many people read."""


async def english_default() -> str:
    """The default language where no chat platform is asked (tests, no Mattermost)."""
    return DEFAULT_LOCALE

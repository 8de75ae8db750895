"""Hypothesis strategies for hostile input: values, JSON documents, forms, queries, headers.

JSON bodies are rendered by hand (``render_json``) so that they can hold what encoders refuse
to write but attackers send anyway: duplicate keys, integers beyond 64 bits, lone surrogates
as escapes, NaN literals, nesting deeper than any parser allows.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

from tests.hostile.harness import Header

# --- scalar values ---------------------------------------------------------------------------

HUGE = 70_000  # past every length limit meetbridge has, and past a 64 KiB buffer

INTERESTING_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate
    "\udfff",
    "é",
    "ß" * 40,
    "日本語",
    "\u202e\u0627\u0644",  # right-to-left override, Arabic
    "😀" * 10,
    "\r\n",
    "null",
    "true",
    "0",
    "-1",
    "9" * 40,
    "1e309",
    "NaN",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "%00%ff",
    "' OR 1=1 --",
    "@all @channel",
    "[x](https://evil.example)",
    "a" * 300,
    "é" * 300,
    "x" * HUGE,
]


def hostile_text(max_size: int = 64) -> st.SearchStrategy[str]:
    """Any Unicode (surrogates and NUL included), plus a list of known troublemakers."""
    return st.one_of(
        st.sampled_from(INTERESTING_TEXT),
        st.text(st.characters(codec=None), max_size=max_size),  # any code point, Cs included
        st.text(st.characters(max_codepoint=0x7F), max_size=max_size),
    )


def hostile_bytes(max_size: int = 64) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.sampled_from(
            [
                b"",
                b"\x00",
                b"\xff\xfe",  # a UTF-16 byte-order mark
                b"\xef\xbb\xbf{}",  # UTF-8 BOM
                b"\xed\xa0\x80",  # a surrogate, encoded: invalid UTF-8
                b"\xc3",  # a truncated sequence
                b"\x80abc",
                "é".encode("latin-1"),
                '{"a": "é"}'.encode("utf-16"),
                b"x" * HUGE,
            ]
        ),
        st.binary(max_size=max_size),
    )


def hostile_int() -> st.SearchStrategy[int]:
    return st.one_of(
        st.sampled_from(
            [0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**40]
        ),
        st.integers(),
    )


# --- JSON ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonObject:
    """An object as a list of pairs: keys may repeat."""

    pairs: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class RawJson:
    """Text placed into the document as is (NaN, deep nesting, broken syntax)."""

    text: str


def render_json(value: Any) -> str:
    if isinstance(value, RawJson):
        return value.text
    if isinstance(value, JsonObject):
        members = (f"{json.dumps(k)}: {render_json(v)}" for k, v in value.pairs)
        return "{" + ", ".join(members) + "}"
    if isinstance(value, Mapping):
        return render_json(JsonObject(tuple(value.items())))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render_json(v) for v in value) + "]"
    # json.dumps escapes lone surrogates (\ud800) and writes any integer, as attackers do.
    return json.dumps(value)


def json_bytes(value: Any, encoding: str = "utf-8") -> bytes:
    return render_json(value).encode(encoding, "surrogatepass")


DEEP = 5_000

RAW_JSON = [
    RawJson("NaN"),
    RawJson("Infinity"),
    RawJson("-Infinity"),
    RawJson("1e400"),
    RawJson("[" * DEEP + "]" * DEEP),
    RawJson('{"a":' * DEEP + "1" + "}" * DEEP),
    RawJson('"\\ud800"'),
    RawJson('"\\u0000"'),
]

json_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    hostile_int(),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text(),
    st.sampled_from(RAW_JSON),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.builds(
            JsonObject,
            st.lists(st.tuples(hostile_text(16), children), max_size=4).map(tuple),
        ),
    )


hostile_json: st.SearchStrategy[Any] = st.recursive(json_scalars, _containers, max_leaves=12)


def mutated_object(
    valid: Mapping[str, Any],
    overrides: Mapping[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[JsonObject]:
    """A valid object with fields dropped, replaced by hostile values, repeated, or added to.

    Most examples keep most fields valid, so checks past the first one get exercised.
    """
    overrides = overrides or {}

    @st.composite
    def build(draw: st.DrawFn) -> JsonObject:
        pairs: list[tuple[str, Any]] = []
        for key, value in valid.items():
            choice = draw(st.sampled_from(["keep", "keep", "keep", "drop", "replace", "repeat"]))
            if choice == "keep":
                pairs.append((key, value))
            elif choice == "replace":
                pairs.append((key, draw(overrides.get(key, hostile_json))))
            elif choice == "repeat":  # duplicate keys: which one wins must not matter
                pairs += [(key, value), (key, draw(overrides.get(key, hostile_json)))]
        extra = draw(st.lists(st.tuples(hostile_text(16), hostile_json), max_size=2))
        pairs += extra
        return JsonObject(tuple(draw(st.permutations(pairs))))

    return build()


# --- forms, queries, headers, bodies -------------------------------------------------------


def form_bytes(pairs: Sequence[tuple[str | bytes, str | bytes]]) -> bytes:
    """application/x-www-form-urlencoded, percent-encoding any bytes (invalid UTF-8 too)."""

    def encoded(part: str | bytes) -> str:
        raw = part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass")
        return quote_from_bytes(raw, safe="")

    return "&".join(f"{encoded(k)}={encoded(v)}" for k, v in pairs).encode()


form_value: st.SearchStrategy[str | bytes] = st.one_of(hostile_text(), hostile_bytes())


def mutated_form(
    valid: Mapping[str, str],
    overrides: Mapping[str, st.SearchStrategy[str | bytes]] | None = None,
) -> st.SearchStrategy[list[tuple[str | bytes, str | bytes]]]:
    """Valid fields, some dropped, replaced, repeated; some hostile fields added."""
    overrides = overrides or {}

    @st.composite
    def build(draw: st.DrawFn) -> list[tuple[str | bytes, str | bytes]]:
        pairs: list[tuple[str | bytes, str | bytes]] = []
        for key, value in valid.items():
            choice = draw(st.sampled_from(["keep", "keep", "keep", "drop", "replace", "repeat"]))
            if choice == "keep":
                pairs.append((key, value))
            elif choice == "replace":
                pairs.append((key, draw(overrides.get(key, form_value))))
            elif choice == "repeat":
                pairs += [(key, draw(overrides.get(key, form_value))), (key, value)]
        pairs += draw(st.lists(st.tuples(form_value, form_value), max_size=2))
        return draw(st.permutations(pairs))

    return build()


def raw_query(pairs: Sequence[tuple[str | bytes, str | bytes]]) -> bytes:
    return form_bytes(pairs)


# Raw query-string junk a server may pass through undecoded (no spaces or controls).
junk_query: st.SearchStrategy[bytes] = st.one_of(
    st.sampled_from([b"", b"&&&", b"=", b"a=1&a=2", b"%", b"%zz", b"%ff%fe", b"a=%00", b";;"]),
    st.binary(max_size=64).map(lambda b: bytes(c for c in b if c > 0x20 and c != 0x7F)),
)

header_value: st.SearchStrategy[bytes] = st.one_of(
    st.sampled_from([b"", b"Basic", b"Basic ", b"Basic =", b"Basic \xff\xfe", b"Token \xc3\xa9"]),
    # obs-text (0x80-0xFF) is legal in HTTP/1.1 header values; CR, LF and NUL are not.
    st.binary(max_size=80).map(lambda b: bytes(c for c in b if c not in (0, 10, 13))),
    hostile_text(40).map(lambda t: t.encode("utf-8", "surrogatepass").replace(b"\x00", b"")),
)

CONTENT_TYPES = [
    b"application/json",
    b"application/json; charset=utf-16",
    b"application/x-www-form-urlencoded",
    b"multipart/form-data; boundary=x",
    b"text/plain",
    b"",
    b"\xff",
]


@st.composite
def bodies(draw: st.DrawFn, content: st.SearchStrategy[bytes]) -> list[bytes]:
    """A body, sometimes delivered in several chunks (as a server streams it)."""
    body = draw(content)
    if len(body) < 2 or draw(st.booleans()):
        return [body]
    cuts = sorted(set(draw(st.lists(st.integers(1, len(body) - 1), max_size=3))))
    edges = [0, *cuts, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges)]


def extra_headers() -> st.SearchStrategy[list[Header]]:
    names = st.sampled_from(
        [b"content-type", b"content-length", b"origin", b"cookie", b"x-forwarded-for", b"accept"]
    )
    return st.lists(st.tuples(names, header_value), max_size=3)


def is_valid_unicode(text: str) -> bool:
    """Whether ``text`` can be sent at all (no lone surrogates): a URL path must be UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

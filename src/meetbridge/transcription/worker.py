"""The transcription worker: a process of its own that transcribes each speaker's track of one
recording with faster-whisper on the CPU (int8) and prints the segments as JSON.

Run as ``python -m meetbridge.transcription.worker`` with the job as JSON on stdin. Speech
recognition is CPU-heavy and can take minutes: in a process of its own, at a lower priority,
it never holds up meetbridge's requests; it exits if meetbridge goes away (the job is queued
again after a restart). Exit status 0: the result on stdout; 2: the model was refused (the
reason on stdout as ``{"error": ...}``); anything else: it failed (details on stderr).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from meetbridge.child_processes import owner_only
from meetbridge.domain.transcript import MANIFEST, parse_manifest
from meetbridge.transcription.model import ModelRefusedError, resolve

REFUSED = 2
NICENESS = 10  # below the service, which shares the host's cores


@dataclass(frozen=True, slots=True)
class WorkerJob:
    speakers: Path
    cache: Path
    model: Path | None = None
    model_sha256: str | None = None
    language: str | None = None  # None: detected per track
    threads: int = 0  # 0: CTranslate2's default

    @classmethod
    def parse(cls, raw: bytes) -> WorkerJob:
        data = orjson.loads(raw)
        return cls(
            speakers=Path(data["speakers"]),
            cache=Path(data["cache"]),
            model=Path(data["model"]) if data.get("model") else None,
            model_sha256=data.get("model_sha256") or None,
            language=data.get("language") or None,
            threads=int(data.get("threads") or 0),
        )

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "speakers": str(self.speakers),
                "cache": str(self.cache),
                "model": None if self.model is None else str(self.model),
                "model_sha256": self.model_sha256,
                "language": self.language,
                "threads": self.threads,
            }
        )


def transcribe(job: WorkerJob) -> dict[str, Any]:
    """Every track of the manifest transcribed: segments (seconds within the track), and the
    audio and processing seconds (for the real-time factor). A track whose file cannot be
    decoded is reported as ``unreadable`` (why, in a line) and costs only its own lines."""
    from faster_whisper import WhisperModel  # the `transcription` extra

    started = time.monotonic()
    # The tracks first: a recording without them is known before the model is loaded.
    tracks_to_do = parse_manifest(orjson.loads((job.speakers / MANIFEST).read_bytes()))
    model_dir = resolve(job.model, job.model_sha256, job.cache)
    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=job.threads)
    loaded = time.monotonic()
    tracks: list[dict[str, Any]] = []
    audio_seconds = 0.0
    for track in tracks_to_do:
        audio = _decoded(job.speakers / track.file)
        if isinstance(audio, str):
            tracks.append({"file": track.file, "unreadable": audio})
            continue
        segments, info = model.transcribe(
            audio,
            language=job.language,
            beam_size=5,
            vad_filter=True,  # long silences (others speaking) are skipped, not hallucinated on
            condition_on_previous_text=False,
        )
        found = [[s.start, s.end, s.text] for s in segments]
        audio_seconds += float(info.duration)
        tracks.append({"file": track.file, "segments": found, "language": info.language})
    return {
        "tracks": tracks,
        "audio_seconds": audio_seconds,
        "processing_seconds": time.monotonic() - started,
        "load_seconds": loaded - started,
    }


def _decoded(path: Path) -> Any:
    """The track's audio as the model takes it (16 kHz mono float32), or why it cannot be read:
    decoding is apart from recognition, so a broken file is told from a failing model."""
    from faster_whisper import decode_audio

    if not path.is_file():
        return "the file is missing"
    try:
        return decode_audio(str(path))
    except Exception as exc:  # any decoder error (av.error.*) means the same: unreadable
        return f"{exc.__class__.__name__}: {exc}"[:300]


def _exit_with_parent() -> None:
    """Stop when meetbridge (the parent) is gone: the job runs again after its restart."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def main() -> int:
    owner_only()
    job = WorkerJob.parse(sys.stdin.buffer.read())
    os.nice(NICENESS)
    _exit_with_parent()
    try:
        result = transcribe(job)
    except ModelRefusedError as exc:
        sys.stdout.buffer.write(orjson.dumps({"error": str(exc)}))
        return REFUSED
    sys.stdout.buffer.write(orjson.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

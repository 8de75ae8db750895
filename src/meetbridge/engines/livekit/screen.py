"""Screen shares in recordings: the recorder encodes the share live to VP8 (WebM) on a fixed
canvas from the moment a share first appears; finalising puts black in front of it (so the
video starts with the audio) and muxes it with the Ogg/Opus mix into one WebM file.

Video frames are written on the recorder's wall clock at ``FPS`` (the last frame held while the
share sends none, black once it ended), so frame ``n`` of the live file is at ``start + n/FPS``
on the recording's timeline and audio and video stay in step without timestamps of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

from meetbridge.child_processes import OWNER_ONLY, child_environment

log = structlog.get_logger(__name__)

WIDTH, HEIGHT = 1280, 720  # the canvas every share is scaled to fit (letterboxed)
FPS = 5  # enough for slides and code; each frame is encoded, so this is the CPU knob
BLACK_Y, BLACK_UV = 16, 128  # black in limited-range YUV, which ffmpeg assumes for yuv420p
FRAME_BYTES = WIDTH * HEIGHT * 3 // 2  # one I420 frame of the canvas
ASSEMBLY_TIMEOUT = 600.0  # seconds; an hour's lead-in and mux take a few
# Identical for the live part and the black lead-in, so the two concatenate without re-encoding.
VP8 = ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "600k",
       "-g", str(FPS * 10), "-pix_fmt", "yuv420p"]  # fmt: skip


def encoder_command(output: Path) -> list[str]:
    """Raw I420 canvas frames at FPS in, VP8 in WebM out (ffmpeg finishes the file at EOF, so a
    killed recorder leaves a playable one)."""
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS),
        "-i", "pipe:0", *VP8, "-threads", "1", "-f", "webm", str(output),
    ]  # fmt: skip


def black_frame() -> bytes:
    luma = WIDTH * HEIGHT
    return bytes([BLACK_Y]) * luma + bytes([BLACK_UV]) * (luma // 2)


@dataclass(frozen=True, slots=True)
class ScreenStart:
    """Where the live screen file begins on the recording's timeline (written beside it)."""

    seconds: float

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(orjson.dumps({"start": self.seconds}))
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path) -> ScreenStart | None:
        try:
            data = orjson.loads(path.read_bytes())
            seconds = float(data["start"])
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        return cls(seconds) if 0 <= seconds < 10**6 else None


def start_file(screen: Path) -> Path:
    return screen.with_name(screen.name + ".json")


class Canvas:
    """Fits I420 frames of any size into the canvas: scaled to fit (nearest neighbour:
    cheap enough for every frame), centred on black."""

    def __init__(self) -> None:
        import numpy  # comes with LiveKit's SDK (the `recording` extra)

        self._np = numpy
        self._maps: dict[tuple[int, int], tuple[Any, ...]] = {}

    def fit(self, data: bytes | memoryview, width: int, height: int) -> bytes:
        np = self._np
        planes = _planes(np.frombuffer(data, dtype=np.uint8), width, height)
        if planes is None:
            return black_frame()
        rows, cols, crows, ccols, top, left = self._map(width, height)
        out = np.frombuffer(bytearray(black_frame()), dtype=np.uint8)
        luma = out[: WIDTH * HEIGHT].reshape(HEIGHT, WIDTH)
        chroma = out[WIDTH * HEIGHT :].reshape(2, HEIGHT // 2, WIDTH // 2)
        y, u, v = planes
        luma[top : top + len(rows), left : left + len(cols)] = y[rows][:, cols]
        ctop, cleft = top // 2, left // 2
        for index, plane in enumerate((u, v)):
            chroma[index, ctop : ctop + len(crows), cleft : cleft + len(ccols)] = plane[crows][
                :, ccols
            ]
        return bytes(out.tobytes())

    def _map(self, width: int, height: int) -> tuple[Any, ...]:
        cached = self._maps.get((width, height))
        if cached is None:
            np = self._np
            scale = min(WIDTH / width, HEIGHT / height)
            fitted_w = max(2, int(width * scale) // 2 * 2)
            fitted_h = max(2, int(height * scale) // 2 * 2)
            chroma_w, chroma_h = (width + 1) // 2, (height + 1) // 2
            cached = (
                np.arange(fitted_h) * height // fitted_h,
                np.arange(fitted_w) * width // fitted_w,
                np.arange(fitted_h // 2) * chroma_h // (fitted_h // 2),
                np.arange(fitted_w // 2) * chroma_w // (fitted_w // 2),
                (HEIGHT - fitted_h) // 4 * 2,  # even offsets: chroma lines up with luma
                (WIDTH - fitted_w) // 4 * 2,
            )
            self._maps[(width, height)] = cached
        return cached


def _planes(pixels: Any, width: int, height: int) -> tuple[Any, Any, Any] | None:
    chroma_w, chroma_h = (width + 1) // 2, (height + 1) // 2
    luma, chroma = width * height, chroma_w * chroma_h
    if width <= 0 or height <= 0 or len(pixels) < luma + 2 * chroma:
        return None
    return (
        pixels[:luma].reshape(height, width),
        pixels[luma : luma + chroma].reshape(chroma_h, chroma_w),
        pixels[luma + chroma : luma + 2 * chroma].reshape(chroma_h, chroma_w),
    )


# --- finalising: black lead-in + live share + audio mix -> one WebM ---------------------------


async def assemble(audio: Path, screen: Path, output: Path) -> bool:
    """Mux the audio mix with the screen share into ``output`` (WebM, VP8 + Opus); False when
    there is no usable share or ffmpeg failed (the recording is then posted audio-only)."""
    start = await asyncio.to_thread(ScreenStart.load, start_file(screen))
    if start is None or not await asyncio.to_thread(_has_content, screen):
        return False
    lead = screen.with_name(screen.name + ".lead.webm")
    playlist = screen.with_name(screen.name + ".concat")
    try:
        parts = [screen]
        if start.seconds > 0:
            if not await _run(_lead_in_command(lead, start.seconds)):
                return False
            parts = [lead, screen]
        await asyncio.to_thread(playlist.write_text, _concat_list(parts, start.seconds))
        return await _run(_mux_command(playlist, audio, output))
    finally:
        lead.unlink(missing_ok=True)
        playlist.unlink(missing_ok=True)


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def _lead_in_command(output: Path, seconds: float) -> list[str]:
    # A frame every ten seconds: black needs no more, and an hour of it takes ~2 s of CPU
    # (one a second took 90 s here). Declared at FPS all the same (frames passed through, not
    # repeated): the muxed stream takes the first part's rate as every frame's duration.
    source = f"color=c=black:s={WIDTH}x{HEIGHT}:r=0.1:d={seconds:.3f}"
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", source, *VP8, "-r", str(FPS), "-fps_mode", "passthrough",
        "-f", "webm", str(output),
    ]  # fmt: skip


def _concat_list(parts: list[Path], lead_seconds: float) -> str:
    lines = ["ffconcat version 1.0"]
    for part in parts:
        quoted = str(part.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
        if len(parts) > 1 and part is parts[0]:
            # The live part starts exactly where the share began, whatever the black's frames.
            lines.append(f"duration {lead_seconds:.3f}")
    return "\n".join(lines) + "\n"


def _mux_command(playlist: Path, audio: Path, output: Path) -> list[str]:
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "concat", "-safe", "0", "-i", str(playlist), "-i", str(audio),
        "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-f", "webm", str(output),
    ]  # fmt: skip


async def _run(command: list[str]) -> bool:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=child_environment(),
        umask=OWNER_ONLY,  # the joined recording is the meeting's content
    )
    try:
        _, errors = await asyncio.wait_for(process.communicate(), ASSEMBLY_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        log.error("recording.screen_assembly_timeout", step=command[-1])
        return False
    if process.returncode != 0:
        log.error("recording.screen_assembly_failed", error=errors.decode(errors="replace")[-300:])
        return False
    return True

"""Audio previews of NoteSequences: FluidSynth with a General MIDI SoundFont where
installed (Debian: `apt-get install fluidsynth fluid-soundfont-gm`), else
pretty_midi's simple sine synth, so a preview always sounds.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
import pretty_midi

from hmm_live.errors import HmmLiveError
from hmm_live.music.sequences import NoteSequence, write_midi

SOUNDFONTS = (Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), Path("/usr/share/sounds/sf2/default-GM.sf2"))
SAMPLE_RATE = 22050


def synth() -> str:
    """Which renderer `render` uses here: "fluidsynth" or "sine"."""
    return "fluidsynth" if shutil.which("fluidsynth") and _soundfont() else "sine"


def render(sequence: NoteSequence, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 audio in [-1, 1] of a sequence (quantised or not)."""
    with tempfile.TemporaryDirectory(prefix="hmm_live_audio_") as tmp:
        midi = write_midi(sequence, Path(tmp) / "preview.mid")
        if synth() == "fluidsynth":
            audio = _fluidsynth(midi, Path(tmp) / "preview.wav", sample_rate)
        else:
            audio = pretty_midi.PrettyMIDI(str(midi)).synthesize(fs=sample_rate).astype(np.float32)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return audio / peak * 0.8 if peak > 0 else audio


def wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono WAV of float audio, for an audio player."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def _soundfont() -> Path | None:
    return next((p for p in SOUNDFONTS if p.exists()), None)


def _fluidsynth(midi: Path, out: Path, sample_rate: int) -> np.ndarray:
    cmd = [
        "fluidsynth",
        "-ni",
        "-q",
        "-g",
        "0.8",
        "-r",
        str(sample_rate),
        "-O",
        "s16",
        "-T",
        "wav",
        "-F",
        str(out),
        str(_soundfont()),
        str(midi),
    ]
    done = subprocess.run(cmd, capture_output=True, timeout=60)
    if done.returncode != 0 or not out.exists():
        raise HmmLiveError(f"fluidsynth could not render {midi.name}: {done.stderr.decode(errors='replace')[-300:]}")
    with wave.open(str(out), "rb") as w:
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
        channels = w.getnchannels()
    return frames.reshape(-1, channels).mean(axis=1)

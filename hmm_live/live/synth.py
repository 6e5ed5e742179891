"""The built-in synth: FluidSynth in this process, with a General MIDI SoundFont, so the
answers are heard on any machine without a DAW or a MIDI port.

The Player calls `send` with the same mido messages it would send to a port; the
synth renders them through the first audio system that works here (PipeWire or
PulseAudio, ALSA, JACK, CoreAudio, Windows). Channel 0 plays the answers,
channel 1 the echo of what the performer plays (another instrument), channel 9
is General MIDI's drum kit.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import sys
import threading
from pathlib import Path

import mido
import numpy as np

from hmm_live.errors import SynthError
from hmm_live.music.audio import SOUNDFONTS

ANSWER_CHANNEL, ECHO_CHANNEL, DRUM_CHANNEL = 0, 1, 9
ANSWER_PROGRAM, ECHO_PROGRAM = 0, 11  # Acoustic Grand Piano answers; the performer's echo is a Vibraphone
DRIVERS = {
    "linux": ("pipewire", "pulseaudio", "alsa", "jack"),
    "darwin": ("coreaudio", "jack"),
    "win32": ("wasapi", "dsound"),
}
MAX_GAIN = 1.0  # at volume 1; FluidSynth's default (0.2) is too quiet next to a live instrument


def _library():
    """pyfluidsynth, which finds libfluidsynth (Debian: apt-get install libfluidsynth3) at import."""
    try:
        import fluidsynth  # first imported, and silenced, by hmm_live.music (note_seq > pretty_midi)
    except ImportError as e:
        raise SynthError(f"FluidSynth is not available: {e} (Debian: apt-get install fluidsynth)") from None
    return fluidsynth


class Synth:
    """FluidSynth playing through the system's audio; `send(message)` like a MIDI port.

    `driver`: one audio driver name, else the platform's drivers are tried in
    order (JACK only where a server runs). `volume` (0..1) and `mute` act at once.
    """

    def __init__(
        self,
        soundfont: str | Path | None = None,
        driver: str | None = None,
        volume: float = 0.8,
        sample_rate: int = 48000,
        period: int = 256,
    ):
        fs = _library()
        path = Path(soundfont) if soundfont else next((p for p in SOUNDFONTS if p.exists()), None)
        if path is None or not path.exists():
            raise SynthError(
                f"no General MIDI SoundFont found (looked for {soundfont or ', '.join(map(str, SOUNDFONTS))}; "
                "Debian: apt-get install fluid-soundfont-gm)"
            )
        self._fs = fs
        self._driver: int | None = None  # the audio driver's handle, once one opens
        self._settings = fs.new_fluid_settings()
        self._set("synth.sample-rate", float(sample_rate))
        self._set("audio.period-size", period)
        self._set("audio.periods", 2)
        self._set("audio.jack.id", "hmm_live synth")
        self._set("audio.jack.autoconnect", 1)  # to the system's playback ports, where there are any
        self._synth = fs.new_fluid_synth(self._settings)
        self._lock = threading.Lock()
        self._volume, self._mute = 1.0, False
        if fs.fluid_synth_sfload(self._synth, str(path).encode(), 1) < 0:
            self._delete()
            raise SynthError(f"FluidSynth cannot read the SoundFont {path}")
        self.soundfont = path
        self.driver, self._driver = self._start(driver)
        self.set_volume(volume)
        for channel, program in ((ANSWER_CHANNEL, ANSWER_PROGRAM), (ECHO_CHANNEL, ECHO_PROGRAM)):
            self.program(channel, program)

    def _set(self, key: str, value: str | int | float) -> None:
        fs = self._fs
        if isinstance(value, str):
            fs.fluid_settings_setstr(self._settings, key.encode(), value.encode())
        elif isinstance(value, int):
            fs.fluid_settings_setint(self._settings, key.encode(), value)
        else:
            fs.fluid_settings_setnum(self._settings, key.encode(), ctypes.c_double(value))

    def _start(self, driver: str | None) -> tuple[str, int]:
        """The first audio driver that opens: (its name, its handle)."""
        candidates = (driver,) if driver else DRIVERS.get(sys.platform, ("pulseaudio", "alsa"))
        os.environ.setdefault("JACK_NO_START_SERVER", "1")  # never let a driver spawn a JACK server
        with _quiet(self._fs):  # each driver that fails would print an error: ours says it all
            for name in candidates:
                if name == "jack" and driver is None and not _jack_running():
                    continue
                self._set("audio.driver", name)
                handle = self._fs.new_fluid_audio_driver(self._settings, self._synth)
                if handle:
                    return name, handle
        self._delete()
        raise SynthError(
            f"no audio output works here (tried {', '.join(candidates)}): "
            "no sound card or sound server; the browser can play the answers instead"
        )

    @property
    def description(self) -> str:
        return f"FluidSynth via {self.driver}" + (" (muted)" if self._mute else "")

    def program(self, channel: int, program: int) -> None:
        """Select a General MIDI program (0-127) on a channel (9 is always the drum kit)."""
        if not 0 <= int(program) <= 127:
            raise SynthError(f"a General MIDI program is 0-127, got {program}")
        with self._lock:
            self._fs.fluid_synth_program_change(self._synth, channel, int(program))

    def set_volume(self, volume: float) -> None:
        if not 0.0 <= float(volume) <= 1.0:
            raise SynthError(f"volume must be between 0 and 1, got {volume}")
        self._volume = float(volume)
        self._apply_gain()

    def set_mute(self, mute: bool) -> None:
        self._mute = bool(mute)
        self._apply_gain()

    def _apply_gain(self) -> None:
        with self._lock:
            _set_gain(self._fs, self._synth, 0.0 if self._mute else self._volume * MAX_GAIN)

    def send(self, message: mido.Message) -> None:
        """Play one MIDI message (notes, controllers, program changes; others are ignored)."""
        fs, synth = self._fs, self._synth
        with self._lock:
            if synth is None:
                return
            kind = message.type
            if kind == "note_on":
                fs.fluid_synth_noteon(synth, message.channel, message.note, message.velocity)
            elif kind == "note_off":
                fs.fluid_synth_noteoff(synth, message.channel, message.note)
            elif kind == "control_change":
                fs.fluid_synth_cc(synth, message.channel, message.control, message.value)
            elif kind == "program_change":
                fs.fluid_synth_program_change(synth, message.channel, message.program)

    def all_notes_off(self) -> None:
        with self._lock:
            if self._synth is not None:
                for channel in range(16):
                    self._fs.fluid_synth_all_notes_off(self._synth, channel)

    def close(self) -> None:
        with self._lock:
            self._delete()

    def _delete(self) -> None:
        fs = self._fs
        if self._driver:
            fs.delete_fluid_audio_driver(self._driver)
            self._driver = None
        if self._synth is not None:
            fs.delete_fluid_synth(self._synth)
            self._synth = None
        if self._settings is not None:
            fs.delete_fluid_settings(self._settings)
            self._settings = None

    def __enter__(self) -> Synth:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_GAIN = None
_LOG_LEVELS = range(4)  # FluidSynth's panic, error, warning and info


# alsa-lib prints its own errors ("ALSA lib pcm.c ... Unknown PCM default") unless given a handler
_ALSA_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)(
    lambda *args: None
)


@contextlib.contextmanager
def _quiet(fs):
    """FluidSynth's log (a NULL log function discards a level's messages) and alsa-lib's off for a while."""
    set_log = fs.cfunc(
        "fluid_set_log_function",
        ctypes.c_void_p,
        ("level", ctypes.c_int, 1),
        ("fun", ctypes.c_void_p, 1),
        ("data", ctypes.c_void_p, 1),
    )
    old = [set_log(level, None, None) for level in _LOG_LEVELS]
    alsa = _alsa()
    if alsa is not None:
        alsa.snd_lib_error_set_handler(_ALSA_HANDLER)
    try:
        yield
    finally:
        for level, function in zip(_LOG_LEVELS, old):
            set_log(level, function, None)
        if alsa is not None:
            alsa.snd_lib_error_set_handler(None)


def _alsa() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("asound")
    return ctypes.CDLL(name) if name else None


def _set_gain(fs, synth, gain: float) -> None:
    """libfluidsynth's fluid_synth_set_gain (pyfluidsynth does not wrap it)."""
    global _GAIN
    if _GAIN is None:
        _GAIN = fs.cfunc("fluid_synth_set_gain", None, ("synth", ctypes.c_void_p, 1), ("gain", ctypes.c_float, 1))
    _GAIN(synth, gain)


def _jack_running() -> bool:
    """Whether a JACK server answers (the one JACK_DEFAULT_SERVER names, else the default)."""
    server = os.environ.get("JACK_DEFAULT_SERVER", "default")
    return any(server in p.name for p in Path("/dev/shm").glob("jack*")) if Path("/dev/shm").exists() else False


@functools.lru_cache(maxsize=8)
def render_notes(
    pitches: tuple[int, ...],
    program: int = ANSWER_PROGRAM,
    drums: bool = False,
    seconds: float = 1.0,
    sample_rate: int = 22050,
    soundfont: str | None = None,
) -> dict[int, np.ndarray]:
    """One mono int16 recording per pitch (held `seconds`, velocity 100, with its release; all
    scaled by one factor to a 0.8 peak), rendered offline by FluidSynth: the samples the
    browser plays the answers with. Cached: the same set is rendered once per process."""
    fs = _library()
    path = Path(soundfont) if soundfont else next((p for p in SOUNDFONTS if p.exists()), None)
    if path is None:
        raise SynthError("no General MIDI SoundFont found (Debian: apt-get install fluid-soundfont-gm)")
    synth = fs.Synth(gain=0.5, samplerate=float(sample_rate))
    try:
        sfid = synth.sfload(str(path))
        channel = DRUM_CHANNEL if drums else ANSWER_CHANNEL
        synth.program_select(channel, sfid, 128 if drums else 0, 0 if drums else program)
        held, release = int(seconds * sample_rate), int(0.3 * sample_rate)
        rendered = {}
        for pitch in pitches:
            synth.noteon(channel, pitch, 100)
            sound = synth.get_samples(held)
            synth.noteoff(channel, pitch)
            sound = np.concatenate([sound, synth.get_samples(release)])
            rendered[pitch] = sound.reshape(-1, 2).mean(axis=1)
            synth.get_samples(sample_rate // 2)  # let it fall silent before the next one
        peak = max(float(np.abs(v).max()) for v in rendered.values()) or 1.0
        return {p: (v * (0.8 * 32767 / peak)).astype(np.int16) for p, v in rendered.items()}
    finally:
        synth.delete()

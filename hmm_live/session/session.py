"""The Session: one performer's state in the kernel, what the notebooks and the panel steer.

It holds the MusicVAE, the clip library, the trained Subspacer and Responder,
the settings, and the live Engine while one runs. Retraining happens in a
background thread on new models, swapped into the running engine when both
are ready, so the music never stops for it. Saved to (and restored from) a
session folder (`store.py`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypedDict, Unpack

from hmm_live.errors import ConfigError, PortError, SessionError, TrainingBusyError
from hmm_live.limits import real, whole
from hmm_live.live import drummer
from hmm_live.live.answers import Models, check_settings, make_answer
from hmm_live.live.bus import Bus
from hmm_live.live.clock import BPM_RANGE, Clock, first_step, in_bpm_range
from hmm_live.live.drummer import HUMANIZE, TAP2DRUM
from hmm_live.live.engine import Engine, check_humanize
from hmm_live.live.link import LinkClock
from hmm_live.live.messages import Settings, TrainingDone, TrainingProgress
from hmm_live.live.midi_clock import ClockFollower, ClockSender
from hmm_live.models import MusicVAE, Responder, Subspacer
from hmm_live.models.subspace_training import train_subspace
from hmm_live.models.subspacer import check_latent_dims
from hmm_live.music.clips import ClipLibrary, clip_name
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, from_notes
from hmm_live.session import store
from hmm_live.shipped import DEFAULT_MODEL

# the "clock" setting -> the engine's clock, made at the session's bpm (out: send MIDI clock as
# master; ableton link needs the `link` extra)
CLOCKS: dict[str, Callable[[float], Clock]] = {
    "internal": Clock,
    "midi clock in": ClockFollower,
    "midi clock out": ClockSender,
    "ableton link": LinkClock,
}
CLOCK_SOURCES = tuple(CLOCKS)


class SessionSettings(TypedDict, total=False):
    """The session's settings by name (what each may be: RULES). A session's `settings` holds
    them all (DEFAULTS); `configure` takes any of them, hence total=False."""

    bpm: float
    temperature: float | None  # None: greedy
    latent_dims: int
    beta: float
    epochs: int | None  # None: until the clips decode back
    mode: str
    every: int
    clock: str  # one of CLOCK_SOURCES
    input: str | Literal[False] | None  # a port name, False for none, None for a virtual port
    output: str | Literal[False] | None
    api: str | None
    out_channel: int | None
    answers: str
    lead: float
    synth: bool
    echo: bool
    volume: float
    mute: bool
    instrument: int | None
    drummer: str | None  # a tap2drum GrooVAE (published name or folder) drumming to each bar; None: none
    humanize: str | None  # a GrooVAE humanize model (name or folder) for drum answers; None: off


DEFAULTS: SessionSettings = {
    "bpm": 120.0,
    "temperature": None,
    "latent_dims": 2,
    "beta": 1.0,
    "epochs": None,
    "mode": "continuous",
    "every": 1,
    "clock": "internal",
    "input": None,
    "output": None,
    "api": None,
    "out_channel": None,
    "answers": "listen",
    "lead": 0.5,
    "synth": True,
    "echo": False,
    "volume": 0.8,
    "mute": False,
    "instrument": None,
    "drummer": None,
    "humanize": None,
}
SOUND = ("volume", "mute", "echo", "instrument")  # the built-in synth's settings, live


def _port(v: object) -> bool:
    return v is None or v is False or isinstance(v, str)


# what each setting may be, as configure checks it (answers, lead, mode and every: check_settings), so
# a saved session's settings are checked by the same rules when it opens; never a raw error at start()
RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "bpm": (lambda v: real(v) and in_bpm_range(v), f"a number from {BPM_RANGE[0]:g} to {BPM_RANGE[1]:g}"),
    "temperature": (lambda v: v is None or (real(v) and v > 0), "None (greedy) or a number > 0"),
    "latent_dims": (lambda v: whole(v) and v >= 1, "a whole number >= 1"),
    "beta": (lambda v: real(v) and v >= 0, "a number >= 0"),
    "epochs": (
        lambda v: v is None or (whole(v) and v >= 1),
        "None (until the clips decode back) or a whole number >= 1",
    ),
    "clock": (lambda v: v in CLOCK_SOURCES, f"one of {', '.join(CLOCK_SOURCES)}"),
    "input": (_port, "None (a virtual port), False (none) or a port name"),
    "output": (_port, "None (a virtual port), False (none) or a port name"),
    "api": (lambda v: v is None or isinstance(v, str), "None or a MIDI system's name"),
    "out_channel": (lambda v: v is None or (whole(v) and 0 <= v <= 15), "None or a MIDI channel 0-15"),
    "synth": (lambda v: isinstance(v, bool), "True or False"),
    "echo": (lambda v: isinstance(v, bool), "True or False"),
    "mute": (lambda v: isinstance(v, bool), "True or False"),
    "volume": (lambda v: real(v) and 0 <= v <= 1, "a number from 0 to 1"),
    "instrument": (lambda v: v is None or (whole(v) and 0 <= v <= 127), "None or a General MIDI program 0-127"),
    "drummer": (lambda v: v is None or isinstance(v, str), "None or a tap2drum model's published name or folder"),
    "humanize": (lambda v: v is None or isinstance(v, str), "None or a GrooVAE humanize model's name or folder"),
}


def warm_up(subspacer: Subspacer) -> None:
    """Decode once greedily and once sampled, so the first slider move is not spent tracing graphs."""
    point = subspacer.clip_mu[:1]
    subspacer.generate(point)
    subspacer.generate(point, temperature=1.0, seed=0)


class Session:
    """`train`, `start`/`stop` the engine, `record` clips, `save`/`open`/`export`.

    Streams on `bus` (for the UI; the items are live/messages.py's): the
    engine's "capture", "points", "answers" and "status", "training" (a
    TrainingProgress per epoch, then a TrainingDone) and "settings".
    """

    def __init__(
        self,
        musicvae: MusicVAE | str | Path = DEFAULT_MODEL,
        path: str | Path | None = None,
        bars: int = 2,
        clips: ClipLibrary | str | Path | None = None,
        **settings: Unpack[SessionSettings],
    ):
        """`clips`: a library, or MIDI files' folder or file cut into `bars`-bar clips
        (e.g. `Session(DRUM_MODEL, clips=DRUM_CLIPS)`, the drum jam); None: none yet."""
        self.musicvae_ref: str | None
        if not isinstance(musicvae, MusicVAE):
            self.musicvae_ref = store.model_ref(musicvae)
            musicvae = MusicVAE.load(musicvae)
        else:
            self.musicvae_ref = None  # an in-memory model: saved sessions need save(include_musicvae=True)
        self.musicvae = musicvae
        self.path = Path(path) if path is not None else None
        if clips is None:
            clips = ClipLibrary(bars)
        self.clips = clips if isinstance(clips, ClipLibrary) else ClipLibrary.from_midi(clips, bars)
        self.training_clips: list[str] | None = None  # None: every clip
        self.subspacer: Subspacer | None = None
        self.responder: Responder | None = None
        self.bus = Bus()
        self.engine: Engine | None = None
        self.drummer: MusicVAE | None = None  # the models the "drummer" and "humanize" settings name
        self.humanize: MusicVAE | None = None
        self.settings = DEFAULTS.copy()
        self.configure(**settings)
        self.problem: str | None = None  # why the folder could not be opened, for the panel
        self._keep_aside = False  # the folder at `path` failed to load: never write over it
        self._training: threading.Thread | None = None
        self._takes = 0
        self._performer = None  # play_demo's output port into the engine's input
        self._performer_lock = threading.Lock()

    def __repr__(self) -> str:
        state = f"trained {self.subspacer.latent_dims}-D" if self.trained and self.subspacer else "untrained"
        return f"Session({len(self.clips)} clips, {state}, {'playing' if self.playing else 'stopped'}, {self.path})"

    # -- settings --------------------------------------------------------------
    def configure(self, **settings: Unpack[SessionSettings]) -> None:
        """Change settings (see DEFAULTS); the engine picks up bpm, temperature, answers and lead at once."""
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ConfigError(f"unknown session settings {sorted(unknown)}; known: {', '.join(DEFAULTS)}")
        for name, value in settings.items():
            if name in RULES and not RULES[name][0](value):
                raise ConfigError(f"{name} must be {RULES[name][1]}, got {value!r}")
        new: SessionSettings = {**self.settings, **settings}
        check_settings(new["answers"], new["lead"], new["mode"], new["every"])
        grooves = self._grooves(settings)
        self.settings.update(settings)
        for name, model in grooves.items():
            setattr(self, name, model)
        self.bus.publish("settings", Settings(dict(self.settings)))  # for views that follow them (the browser's sound)
        engine = self.engine
        if engine is not None:
            if "bpm" in settings:  # a ClockFollower ignores it, a LinkClock proposes it to the session
                engine.clock.set_bpm(float(settings["bpm"]))
            if "temperature" in settings:
                engine.temperature = settings["temperature"]
            engine.answers, engine.lead = self.settings["answers"], float(self.settings["lead"])
            if any(k in settings for k in SOUND):
                s = self.settings
                engine.set_sound(volume=s["volume"], mute=s["mute"], echo=s["echo"], instrument=s["instrument"])
            if "drummer" in grooves:
                engine.set_drummer(self.drummer)
            if "humanize" in grooves:
                engine.set_humanize(self.humanize)

    def _grooves(self, settings: SessionSettings) -> dict[str, MusicVAE | None]:
        """The GrooVAEs that `settings` change ("drummer", "humanize"), loaded and checked
        (a name is downloaded on first use); nothing is changed if one fails."""
        out: dict[str, MusicVAE | None] = {}
        given, now = dict(settings), dict(self.settings)
        for name, job in (("drummer", TAP2DRUM), ("humanize", HUMANIZE)):
            ref = given.get(name, now[name])
            if ref != now[name]:
                out[name] = None if ref is None else drummer.load(str(ref), job)
        humanize = out.get("humanize")
        if humanize is not None:
            check_humanize(humanize, self.musicvae)
        return out

    # -- training ----------------------------------------------------------------
    @property
    def trained(self) -> bool:
        return self.subspacer is not None and self.responder is not None

    @property
    def training(self) -> bool:
        return self._training is not None and self._training.is_alive()

    def training_library(self) -> ClipLibrary:
        """The clips picked for training (all of them unless `training_clips` names some)."""
        names = (
            self.clips.names
            if self.training_clips is None
            else [n for n in self.training_clips if n in self.clips.names]
        )
        return ClipLibrary(self.clips.bars, [(n, self.clips[n].sequence) for n in names])

    def train(
        self,
        epochs: int | None = None,
        beta: float | None = None,
        latent_dims: int | None = None,
        background: bool = True,
    ) -> threading.Thread | None:
        """Train a new subspace and responder on the picked clips; a running engine swaps them in.

        Arguments left None keep the session's settings; the "epochs" setting None
        (the default; `configure(epochs=None)`) trains the subspacer until the clips
        decode back (`Subspacer.fit`), publishing "epochs": None while it does. A
        retrain with the same dimensions and beta keeps the clips near their places.
        In the background by default (returns the thread; the engine keeps playing).
        A second call while one runs raises TrainingBusyError.
        """
        library = self.training_library()
        if len(library) < 2:
            raise ConfigError(f"training needs at least 2 clips, {len(library)} picked: record or load some")
        if self.training:
            raise TrainingBusyError("the session is already training: wait for it to finish")
        if latent_dims is not None:  # checked before it is kept: a refused value leaves the settings as they were
            check_latent_dims(latent_dims, self.musicvae)
        changes: SessionSettings = {}
        if epochs is not None:
            changes["epochs"] = epochs
        if beta is not None:
            changes["beta"] = beta
        if latent_dims is not None:
            changes["latent_dims"] = latent_dims
        self.configure(**changes)  # checked by the settings' rules before any is kept
        s = self.settings
        if not background:
            self._train(library, s["epochs"], s["beta"], s["latent_dims"], raise_errors=True)
            return None
        self._training = threading.Thread(
            target=self._train,
            args=(library, s["epochs"], s["beta"], s["latent_dims"]),
            name="hmm_live session training",
            daemon=True,
        )
        self._training.start()
        return self._training

    def _train(
        self, library: ClipLibrary, epochs: int | None, beta: float, latent_dims: int, raise_errors: bool = False
    ) -> None:
        def progress(stage: str, epoch: int, total: int | None, logs: dict) -> None:
            self.bus.publish("training", TrainingProgress(stage, epoch, total, dict(logs)))

        old = self.subspacer  # its clips keep their places, unless the shape of the map changes
        same = old is not None and (old.latent_dims, old.beta, old.musicvae) == (latent_dims, beta, self.musicvae)
        started = time.monotonic()
        try:
            subspacer, responder = train_subspace(
                self.musicvae, library, latent_dims, beta, epochs, progress, previous=old if same else None
            )
            warm_up(subspacer)
            if self.engine is not None:
                self.engine.set_models(subspacer=subspacer, responder=responder)
            self.subspacer, self.responder = subspacer, responder
        except Exception as e:
            self.bus.publish("training", TrainingDone(f"{type(e).__name__}: {e}"))
            if raise_errors:
                raise
            return
        self.bus.publish("training", TrainingDone(seconds=time.monotonic() - started))

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background training run to finish."""
        if self._training is not None:
            self._training.join(timeout)

    # -- playing -------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self.engine is not None and self.engine.running

    def start(self, **settings: Unpack[SessionSettings]) -> Engine:
        """Start the live engine with the session's models and settings (ports, clock, mode...)."""
        if settings:
            self.configure(**settings)
        subspacer, responder = self._models()
        if self.engine is not None and self.engine.running:
            return self.engine
        s = self.settings
        engine = Engine(
            self.musicvae,
            subspacer,
            responder,
            input=s["input"],
            output=s["output"],
            api=s["api"],
            out_channel=s["out_channel"],
            temperature=s["temperature"],
            mode=s["mode"],
            every=int(s["every"]),
            answers=s["answers"],
            lead=float(s["lead"]),
            clock=CLOCKS[s["clock"]](float(s["bpm"])),
            synth=bool(s["synth"]),
            echo=bool(s["echo"]),
            volume=float(s["volume"]),
            mute=bool(s["mute"]),
            instrument=s["instrument"],
            bus=self.bus,
            drummer=self.drummer,
            humanize=self.humanize,
        )
        engine.start()
        self.engine = engine
        return engine

    def _models(self) -> tuple[Subspacer, Responder]:
        """The trained subspacer and responder; ConfigError if the session has none yet."""
        if self.subspacer is None or self.responder is None:
            raise ConfigError("the session has no trained subspace yet: add clips and call train() first")
        return self.subspacer, self.responder

    def _running_engine(self, problem: str) -> Engine:
        """The running engine; ConfigError(`problem`) if none runs."""
        if self.engine is None or not self.engine.running:
            raise ConfigError(problem)
        return self.engine

    def stop(self) -> None:
        if self._performer is not None:
            with self._performer_lock:  # never while the demo thread sends on it (segfault)
                self._performer.close()
            self._performer = None
        if self.engine is not None:
            self.engine.stop()

    def play(self, sequence: NoteSequence, bar: int | None = None) -> None:
        """Play a sequence on the running engine's output from bar `bar` (default: the next one)."""
        engine = self._running_engine("start() the engine first: it owns the output port and the clock")
        if bar is None:
            bar = engine.clock.next_bar()
        engine.player.play(sequence, first_step(bar))

    def play_demo(self, bars: int = 8) -> threading.Thread:
        """Play the built-in performance (the clips' bars, with human timing) into the running
        engine from its next bar: through its virtual input port when it has one and it is the
        only one of that name (else straight into its capture). Returns the thread."""
        from hmm_live.live import demo, ports

        engine = self._running_engine("start() the engine first")
        send = None
        virtual_input = self.settings["input"] is None and engine.status()["ports"]["input"] is not None
        if virtual_input:  # one port for every call: JACK dislikes client churn
            if self._performer is None:
                with contextlib.suppress(PortError):  # another program's "hmm_live in" too: ours is unknown
                    self._performer = ports.open_output(ports.IN_PORT, api=engine.api)
            if self._performer is not None:
                send = self._send_demo
        return demo.play(engine, self.clips, bars, send)

    def answer(self, bar: NoteSequence, seed: int | None = None) -> NoteSequence:
        """The answer the engine would play to this one-bar NoteSequence (16 quantised steps),
        with the session's models and settings, without the timing. A rest gets silence."""
        subspacer, responder = self._models()
        if not bar.notes:
            return from_notes([], STEPS_PER_BAR)
        s = self.settings
        models = Models(self.musicvae, subspacer, responder)
        return make_answer(models, bar, s["answers"], float(s["lead"]), s["temperature"], seed)[1]

    def _send_demo(self, message) -> None:
        with self._performer_lock:
            port = self._performer
            if port is not None and not port.closed:
                port.send(message)

    # -- clips -----------------------------------------------------------------------
    def record(self) -> None:
        """Collect the bars the performer plays from now on (needs the engine running)."""
        self._running_engine("start() the engine first: recording listens to its capture").capture.record()

    def stop_recording(self) -> list[str]:
        """Cut what was recorded into clips (from the first bar played) and add them; returns their names."""
        if self.engine is None:
            return []
        bars = self.engine.capture.stop_recording()
        while bars and not bars[0].notes:  # the take starts at the first bar played
            bars = bars[1:]
        self._takes += 1
        n = self.clips.bars
        added = []
        for first in range(0, len(bars) - n + 1, n):
            notes = [
                (note.pitch, first_step(b) + note.quantized_start_step, first_step(b) + note.quantized_end_step)
                for b, bar in enumerate(bars[first : first + n])
                for note in bar.notes
            ]
            if notes:
                name = clip_name([], f"take {self._takes}", first, n)  # "take 1, bars 1-2"
                self.clips.add(name, from_notes(notes, n * STEPS_PER_BAR, qpm=float(self.settings["bpm"])))
                added.append(name)
        return added

    # -- files ------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> Session:
        """Restore a saved session; SessionError names what is wrong and nothing is changed.
        A save a crash cut short is recovered first (`problem` then says so)."""
        path = Path(path)
        recovered = store.recover(path)
        c = store.read(path)
        settings = {k: v for k, v in c.settings.items() if k in DEFAULTS}  # others: from a newer hmm_live
        try:
            session = cls(c.musicvae, path, c.clips.bars, **settings)
        except ConfigError as e:
            raise SessionError(f"{path / store.INDEX}: 'settings': {e}") from None
        session.musicvae_ref = c.musicvae_ref
        session.clips, session.training_clips = c.clips, c.training_clips
        session.subspacer, session.responder = c.subspacer, c.responder
        session.problem = recovered
        if c.subspacer is not None:
            warm_up(c.subspacer)
        return session

    @classmethod
    def open_or_create(
        cls,
        path: str | Path,
        musicvae: MusicVAE | str | Path = DEFAULT_MODEL,
        clips: ClipLibrary | str | Path | None = None,
    ) -> Session:
        """The session saved at `path`; a new one (with `musicvae` and `clips`) if there is none.
        If the folder cannot be read, whatever the damage, a new session starts with the reason
        in `problem`, and the folder is kept."""
        path = Path(path)
        if not store.saved_at(path):
            return cls(musicvae, path, clips=clips)
        try:
            return cls.open(path)
        except Exception as e:  # any damage (hostile files too) must not stop the notebook
            reason = str(e) if isinstance(e, SessionError) else f"{path} cannot be read ({type(e).__name__}: {e})"
            session = cls(musicvae, path, clips=clips)
            session.problem = f"{reason}. Started a new session; saving it will keep the old folder aside."
            session._keep_aside = True
            return session

    def save(self, path: str | Path | None = None) -> Path:
        """Save atomically to `path` (default: where it was opened); a failure (full disk,
        read-only folder) raises SessionError and leaves the saved folder as it was."""
        path = Path(path) if path is not None else self.path
        if path is None:
            raise ConfigError("this session has no folder yet: save(path)")
        if self.musicvae_ref is None:
            raise ConfigError("this session's MusicVAE was made in memory: export(path) saves it with the session")
        if self._keep_aside and path == self.path and path.exists():
            store.set_aside(path)
            self._keep_aside = False
        store.write(path, self._contents())
        self.path, self.problem = path, None
        return path

    def export(self, path: str | Path) -> Path:
        """A self-contained copy (MusicVAE included) that `Session.open` restores anywhere."""
        return store.write(path, self._contents(), include_musicvae=True)

    def _contents(self) -> store.Contents:
        return store.Contents(
            self.musicvae,
            self.musicvae_ref or "musicvae",
            self.settings,
            self.clips,
            self.training_clips,
            self.subspacer,
            self.responder,
        )

"""`hmm-live jam`: the live engine from a terminal, one line per bar, Ctrl-C to stop.

For a player at a keyboard with no notebook open: the session's engine runs
as in the jam notebook, and each bar is printed as it passes, with what was
played in it and what the machine played in it (its answer to the bar
before). Bar numbers count from 1, as everywhere people read them.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hmm_live.errors import ConfigError
from hmm_live.live.messages import Answer, CapturedBar, Drums, Status
from hmm_live.music.clips import ClipLibrary
from hmm_live.music.drums import DrumsConverter
from hmm_live.music.sequences import NoteSequence
from hmm_live.session import Session
from hmm_live.shipped import MELODY_JAM, Jam

NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
Log = Callable[[str], None]


def pitch_name(pitch: int) -> str:
    """MIDI 60 -> "C4": what a musician reads faster than a number."""
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def describe(sequence: NoteSequence | None) -> str:
    """The notes in the order they start, e.g. "3 notes: E4 G4 B4"; "rest" for none."""
    notes = sorted(sequence.notes, key=lambda n: (n.quantized_start_step, n.pitch)) if sequence else []
    if not notes:
        return "rest"
    return f"{len(notes)} note{'s' if len(notes) > 1 else ''}: {' '.join(pitch_name(n.pitch) for n in notes)}"


def prepare(folder: str | Path | None, log: Log, shipped: Jam = MELODY_JAM, dims: int | None = None) -> Session:
    """The session to jam with: the one saved in `folder` (or a new one there), else one in memory.

    A new session answers with `shipped`'s model (the melody jam's, or the drum
    jam's); one with no clips gets its shipped clips (as `jam --demo`). One with
    no subspace, or one of other than `dims` dimensions, is trained now, and
    saved when it has a folder, so the next jam with it starts at once."""
    if folder is None:
        session = Session(shipped.model)
    else:
        session = Session.open_or_create(folder, shipped.model)
    if session.problem:
        log(f"note: {session.problem}")
    if shipped.drums and not isinstance(session.musicvae.data_converter, DrumsConverter):
        raise ConfigError(
            f"the session in {folder} answers with {session.musicvae_ref or 'its own model'}, not drums: "
            "jam with it without --drums, or give a new session folder"
        )
    if not len(session.clips):
        session.clips = ClipLibrary.from_midi(shipped.clips)
        log(f"no clips yet: using the shipped jam clips ({shipped.clips.name}, {len(session.clips)} phrases)")
    if dims is not None:
        session.configure(latent_dims=dims)
    other_dims = dims is not None and session.subspacer is not None and session.subspacer.latent_dims != dims
    if not session.trained or other_dims:
        log(f"training a {session.settings['latent_dims']}-D subspace on {len(session.clips)} clips (seconds)...")
        session.train(background=False)
        if session.path is not None:
            log(f"saved the trained session to {session.save()}")
    return session


def jam(session: Session, settings: dict[str, Any], log: Log = print) -> int:
    """Start the engine with `settings` and print each bar until Ctrl-C, then stop it (all notes off)."""
    bars, answers, drums, status = (session.bus.subscribe(s) for s in ("capture", "answers", "drums", "status"))
    planned: dict[int, Answer] = {}  # answers by the bar they play in
    drummed: dict[int, Drums] = {}  # the drummer's bars, likewise
    try:
        engine = session.start(**settings)
        for line in where(Status(**engine.status())):
            log(line)
        log("playing: one line per bar; Ctrl-C stops")
        while True:
            try:
                bar = bars.get(timeout=0.25)
            except TimeoutError:
                bar = None
            for item in answers.drain():
                planned[item.bar] = item
            for hit in drums.drain():
                drummed[hit.bar] = hit
            if bar is not None:
                log(bar_line(bar, planned.pop(bar.bar, None), drummed.pop(bar.bar, None)))
                planned = {b: a for b, a in planned.items() if b > bar.bar}
                drummed = {b: d for b, d in drummed.items() if b > bar.bar}
            for item in status.drain():
                if item.event:
                    log(f"bar {_shown(item.bar)}: {item.event}")
                elif item.traceback:
                    log(f"error: {item.last_error}")
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
        log("\nstopping: all notes off")
    finally:
        session.stop()
        for subscription in (bars, answers, drums, status):
            subscription.close()
    return 0


def where(status: Status) -> list[str]:
    """Where MIDI comes from and goes, and where the answers are heard."""
    return [
        f"MIDI: {status.midi}",
        f"  play into: {status.ports.get('input') or 'no input port'}",
        f"  answers out: {status.ports.get('output') or 'no output port'}",
        f"sound: {status.sound}",
    ]


def bar_line(bar: CapturedBar, answer: Answer | None, drums: Drums | None = None) -> str:
    """One bar as it passes: what was played in it, what the machine played in it (and its drummer)."""
    line = f"bar {bar.bar + 1:4d} | you: {describe(bar.sequence)} | machine: "
    line += "rest" if answer is None else f"{describe(answer.sequence)} (answering bar {answer.answering + 1})"
    if drums is not None:
        line += f" | drums: {len(drums.sequence.notes)} hits"
    return line


def _shown(bar: int | None) -> str:
    return "-" if bar is None else str(bar + 1)

"""The headless jam (`hmm-live jam --demo`): a built-in performance meets the engine.

The performance is made from the shipped clips (`checkpoints/jam_folk/clips.mid`,
phrases of O'Neill's public-domain tunes; or, for the drum jam,
`checkpoints/jam_groove/clips.mid`), played with human-like timing
jitter. It goes through real MIDI ports where a JACK server is running or can
be started (a private one with the dummy backend), else straight into the
capture. The answers are written to a MIDI file (performance on track 1,
answers on track 2) and logged bar by bar.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import mido

from hmm_live.errors import PortError
from hmm_live.live import ports
from hmm_live.live.answers import check_settings
from hmm_live.live.clock import first_step
from hmm_live.live.engine import Engine
from hmm_live.live.jack import jack_server
from hmm_live.live.messages import Answer, Drums
from hmm_live.live.performer import perform_in_thread
from hmm_live.models import MusicVAE
from hmm_live.models.subspace_training import train_subspace
from hmm_live.music.clips import ClipLibrary
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, from_notes, step_seconds, write_midi
from hmm_live.shipped import MELODY_JAM, Jam

JITTER = 0.015  # seconds, either way: the performance's human timing


def performance(clips: ClipLibrary, bars: int) -> list[NoteSequence]:
    """`bars` one-bar sequences: the clips' bars in turn."""
    return [clips[(b // clips.bars) % len(clips)].bar(b % clips.bars) for b in range(bars)]


def play(
    engine: Engine, clips: ClipLibrary, bars: int, send: Callable[[mido.Message], None] | None = None
) -> threading.Thread:
    """Play the clips' bars into a running engine from its next bar, in a named thread:
    through `send` (a port's, to the engine's input) when given, else into its capture."""
    first = engine.clock.next_bar()
    return perform_in_thread(
        send or engine.feed,
        engine.clock,
        performance(clips, bars),
        "hmm_live demo performer",
        first_bar=first,
        jitter=JITTER,
    )


def run(
    bars: int = 16,
    out: str | Path | None = None,
    bpm: float = 120.0,
    temperature: float | None = None,
    use_ports: bool = True,
    answers: str = "listen",
    lead: float = 0.5,
    log: Callable[[str], None] = print,
    shipped: Jam = MELODY_JAM,
    latent_dims: int = 2,
    drummer: MusicVAE | None = None,
) -> dict:
    """Play the demo performance to the engine; returns a summary (and writes `out`).

    `shipped`: the model and clips (MELODY_JAM, or DRUM_JAM: drum clips answered with
    drums); `latent_dims`: the subspace's dimensions; `drummer`: a tap2drum GrooVAE that
    drums to each bar on the next (written as a third part, its micro-timing kept)."""
    check_settings(answers, lead)  # before anything slow starts
    musicvae = MusicVAE.load(shipped.model)
    clips = ClipLibrary.from_midi(shipped.clips, bars=2)
    started = time.monotonic()
    subspacer, responder = train_subspace(musicvae, clips, latent_dims)
    log(
        f"trained a {latent_dims}-D subspace and a responder on {len(clips)} clips "
        f"in {time.monotonic() - started:.1f} s"
    )
    with contextlib.ExitStack() as stack:
        api = _jack(stack, log) if use_ports else None
        engine = Engine(
            musicvae,
            subspacer,
            responder,
            input=None if api else False,
            output=None if api else False,
            api=api,
            bpm=bpm,
            temperature=temperature,
            answers=answers,
            lead=lead,
            drummer=drummer,
        )
        answer_stream = engine.bus.subscribe("answers", maxlen=bars + 4)
        drum_stream = engine.bus.subscribe("drums", maxlen=bars + 4)
        point_stream = engine.bus.subscribe("points", maxlen=bars + 4)
        stack.enter_context(engine)
        if api:
            performer = stack.enter_context(contextlib.closing(ports.open_output(ports.IN_PORT, api=api)))
            send = performer.send
        else:
            send = engine.feed
        played = performance(clips, bars)
        perform_in_thread(send, engine.clock, played, "hmm_live demo performer", jitter=JITTER).join()
        time.sleep(max(0.0, engine.clock.bar_time(bars + 1) - time.monotonic()) + 0.05)
        status = engine.status()
    got: dict[int, Answer] = {a.bar: a for a in answer_stream.drain()}
    where = {p.bar: p.point for p in point_stream.drain()}
    drums: dict[int, Drums] = {d.bar: d for d in drum_stream.drain()}
    for b in range(bars):
        answer = got.get(b + 1)
        point = where.get(b)
        log(
            f"bar {b + 1:3d}: played {len(played[b].notes):2d} notes -> "
            + (
                f"point ({', '.join(f'{x:+.2f}' for x in point)}) -> answered {len(answer.sequence.notes)} notes"
                if answer is not None and point is not None
                else "no answer"
            )
            + (f", drums {len(drums[b + 1].sequence.notes)} hits" if b + 1 in drums else "")
        )
    summary = {
        "bars": bars,
        "answered": sum(b + 1 in got for b in range(bars)),
        "drummed": sum(b + 1 in drums for b in range(bars)),
        "ports": api or "in-process",
        "last_error": status["last_error"],
    }
    if out:
        write_midi(_duet(played, got, bpm, shipped.drums, drums), out)
        summary["out"] = str(out)
        log(f"wrote {out}")
    return summary


def _jack(stack: contextlib.ExitStack, log: Callable[[str], None]) -> str | None:
    """'jack' if a JACK server runs or a private one starts; None (in-process) otherwise."""
    os.environ.setdefault("JACK_NO_START_SERVER", "1")  # probe, never let libjack start one itself
    with contextlib.suppress(PortError), _quiet_stderr():  # libjack complains on stderr when absent
        ports.open_output("hmm_live probe", virtual=True, api="jack").close()
        log("MIDI through the running JACK server")
        return "jack"
    if shutil.which("jackd") is None:
        log("no JACK server and no jackd: playing into the capture in-process")
        return None
    try:
        name = stack.enter_context(jack_server())
    except RuntimeError as e:
        log(f"could not start a JACK server ({e}): playing into the capture in-process")
        return None
    log(f"MIDI through a private JACK server ({name}, dummy backend)")
    return "jack"


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (C libraries' messages) for a moment."""
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _duet(
    played: list[NoteSequence],
    answers: dict[int, Answer],
    bpm: float,
    drums: bool = False,
    drummed: dict[int, Drums] | None = None,
) -> NoteSequence:
    """One timed sequence: the performance (instrument 0) and the answers (instrument 1) at their
    bars, each note at its velocity; `drums`: both are drum parts (MIDI channel 10); `drummed`:
    the drummer's bars (instrument 2, channel 10), each hit at the time it was scheduled for."""
    bars = len(played) + 1

    def placed(sequence: NoteSequence, bar: int, instrument: int) -> list[tuple[int, int, int, int, int]]:
        first = first_step(bar)
        return [
            (n.pitch, first + n.quantized_start_step, first + n.quantized_end_step, instrument, n.velocity)
            for n in sequence.notes
        ]

    notes = [n for b, bar in enumerate(played) for n in placed(bar, b, 0)]
    notes += [n for b, a in sorted(answers.items()) for n in placed(a.sequence, b, 1)]
    sequence = from_notes([n[:3] for n in notes], bars * STEPS_PER_BAR, is_drum=drums, qpm=bpm)
    for note, (_, _, _, instrument, velocity) in zip(sequence.notes, notes):
        note.instrument = instrument
        note.velocity = velocity or note.velocity  # each note as loud as it was played (and answered)
    bar_seconds = STEPS_PER_BAR * step_seconds(bpm)
    for b, d in sorted((drummed or {}).items()):
        for hit in d.sequence.notes:
            sequence.notes.add(
                pitch=hit.pitch,
                velocity=hit.velocity,
                is_drum=True,
                instrument=2,
                start_time=b * bar_seconds + hit.start_time,
                end_time=b * bar_seconds + hit.end_time,
            )
            sequence.total_time = max(sequence.total_time, b * bar_seconds + hit.end_time)
    sequence.ClearField("quantization_info")  # timed: the drummer's hits are off the grid
    return sequence

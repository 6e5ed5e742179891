"""Performances: one instrument's notes as note-on, note-off, time-shift and velocity events.

The multitrack converter's tracks, written and read as magenta-js 1.23.1's
performance.ts does, event for event, so hmm_live feeds a multitrack MusicVAE
what @magenta/music feeds it: notes in (start time, pitch) order; at each step
the events of earlier-listed notes first, a note's onset before its offset;
a velocity event only where the bin changes (the first bin assumed is the
top one); time shifts of at most `max_shift` steps. Velocity bins follow
magenta-js (velocity 1 is bin 1); Python Magenta, which trained the published
models, bins from velocity 2, so a velocity on a bin's lower edge falls one bin
lower there.
"""

from __future__ import annotations

from collections.abc import Sequence

from note_seq.protobuf.music_pb2 import NoteSequence

NOTE_ON, NOTE_OFF, TIME_SHIFT, VELOCITY = range(4)
Event = tuple[int, int]  # (kind, value): a pitch, a number of steps or a velocity bin
Note = tuple[int, int, int, int | None]  # pitch, start step, end step, velocity (None: no velocity event came first)


def bin_size(velocity_bins: int) -> int:
    """MIDI velocities per bin."""
    return -(-127 // velocity_bins)


def events_of(notes: Sequence[NoteSequence.Note], max_shift: int, velocity_bins: int) -> list[Event]:
    """The events of quantised notes (velocities 1..127 where `velocity_bins`; 0 bins: none)."""
    ordered = sorted(notes, key=lambda n: (n.start_time, n.pitch))
    marks = sorted(
        [(n.quantized_start_step, i, 0) for i, n in enumerate(ordered)]
        + [(n.quantized_end_step, i, 1) for i, n in enumerate(ordered)]
    )
    size = bin_size(velocity_bins) if velocity_bins else 0
    events: list[Event] = []
    step, current_bin = 0, velocity_bins
    for at, index, is_offset in marks:
        if at > step:
            while at > step + max_shift:
                events.append((TIME_SHIFT, max_shift))
                step += max_shift
            events.append((TIME_SHIFT, at - step))
            step = at
        note = ordered[index]
        if is_offset:
            events.append((NOTE_OFF, note.pitch))
            continue
        if size:
            velocity_bin = (note.velocity - 1) // size + 1
            if velocity_bin != current_bin:
                events.append((VELOCITY, velocity_bin))
                current_bin = velocity_bin
        events.append((NOTE_ON, note.pitch))
    return events


def set_num_steps(events: list[Event], num_steps: int, max_shift: int) -> None:
    """Make the events last `num_steps` steps, in place: time shifts added at the end, or events
    dropped from the end (the last time shift kept shortened where it straddles the end)."""
    current = sum(value for kind, value in events if kind == TIME_SHIFT)
    if current < num_steps:
        if events and events[-1][0] == TIME_SHIFT:
            added = min(num_steps - current, max_shift - events[-1][1])
            events[-1] = (TIME_SHIFT, events[-1][1] + added)
            current += added
        while current < num_steps:
            shift = min(max_shift, num_steps - current)
            events.append((TIME_SHIFT, shift))
            current += shift
    while events and current > num_steps:
        kind, value = events[-1]
        if kind == TIME_SHIFT and current - value < num_steps:
            events[-1] = (TIME_SHIFT, value - (current - num_steps))
            current = num_steps
        else:
            events.pop()
            current -= value if kind == TIME_SHIFT else 0


def notes_of(events: Sequence[Event], velocity_bins: int) -> list[Note]:
    """The notes the events play, in magenta-js's order: each as its note-off comes, then those
    never ended (ending at the last step) by pitch. A note-off ends the earliest open note of
    its pitch; a zero-length note, or a note-off with no open note, is dropped."""
    size = bin_size(velocity_bins) if velocity_bins else 0
    open_notes: dict[int, list[tuple[int, int | None]]] = {}
    notes: list[Note] = []
    step, velocity = 0, None
    for kind, value in events:
        if kind == NOTE_ON:
            open_notes.setdefault(value, []).append((step, velocity))
        elif kind == NOTE_OFF:
            if open_notes.get(value):
                start, at_velocity = open_notes[value].pop(0)
                if step > start:
                    notes.append((value, start, step, at_velocity))
        elif kind == TIME_SHIFT:
            step += value
        else:
            velocity = (value - 1) * size + 1
    for pitch in sorted(open_notes):
        notes.extend((pitch, start, step, v) for start, v in open_notes[pitch] if step > start)
    return notes

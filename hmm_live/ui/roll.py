"""Piano rolls of one sequence as inline SVG: light enough to redraw on every slider move,
with pitch names, so a roll can be read without hovering."""

from __future__ import annotations

import html

import ipywidgets as widgets

from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, quantize

WIDTH, HEIGHT, GUTTER = 340, 110, 30
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def pitch_name(pitch: int) -> str:
    """A MIDI pitch as a note name, middle C (60) being C4, as most DAWs show it."""
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def roll_svg(sequence: NoteSequence | None, title: str = "", color: str = "#2b7bb9") -> str:
    """An SVG piano roll of a quantised sequence: pitch up (C's and the pitches played named
    in a left gutter), 16th steps across, bar lines."""
    notes = list(quantize(sequence).notes) if sequence is not None and sequence.notes else []
    steps = max([STEPS_PER_BAR] + [n.quantized_end_step for n in notes])
    steps = -(-steps // STEPS_PER_BAR) * STEPS_PER_BAR
    low = min([60] + [n.pitch for n in notes]) - 2
    high = max([72] + [n.pitch for n in notes]) + 2
    sx, sy = (WIDTH - GUTTER) / steps, (HEIGHT - 14) / (high - low + 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" class="hmm-roll" '
        f'data-notes="{len(notes)}"><rect width="100%" height="100%" fill="#fafafa"/>',
        f'<text x="{GUTTER + 2}" y="11" font-size="10" fill="#555">{html.escape(title)}'
        f"{'' if notes else ' (silence)'}</text>",
    ]
    labelled = {n.pitch for n in notes} | {p for p in range(low, high + 1) if p % 12 == 0}
    last_y = None
    for pitch in sorted(labelled, reverse=True):  # top down, skipping labels that would overlap
        y = 14 + (high - pitch + 0.5) * sy
        if last_y is None or y - last_y >= 9:
            parts.append(
                f'<text x="1" y="{y + 3:.1f}" font-size="9" fill="#555" class="hmm-pitch">{pitch_name(pitch)}</text>'
            )
            last_y = y
    for step in range(0, steps + 1, 4):
        stroke = "#999" if step % STEPS_PER_BAR == 0 else "#e4e4e4"
        x = GUTTER + step * sx
        parts.append(f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{HEIGHT}" stroke="{stroke}"/>')
    for n in notes:
        y = 14 + (high - n.pitch) * sy
        parts.append(
            f'<rect x="{GUTTER + n.quantized_start_step * sx:.1f}" y="{y:.1f}" rx="1" '
            f'width="{max(1.0, (n.quantized_end_step - n.quantized_start_step) * sx - 1):.1f}" '
            f'height="{max(1.5, sy - 0.5):.1f}" fill="{color}"><title>{pitch_name(n.pitch)}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)


class PianoRoll(widgets.HTML):
    """A widget showing one sequence; `show(sequence)` redraws it."""

    def __init__(self, title: str = "", color: str = "#2b7bb9", sequence: NoteSequence | None = None):
        super().__init__()
        self.title, self.color = title, color
        self.add_class("hmm-piano-roll")
        self.show(sequence)

    def show(self, sequence: NoteSequence | None) -> None:
        self.sequence = sequence
        self.value = roll_svg(sequence, self.title, self.color)

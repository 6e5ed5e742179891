"""Piano rolls as inline SVG: light enough to redraw every bar, no plotting library."""
from __future__ import annotations

import html

import ipywidgets as widgets

from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, quantize

WIDTH, HEIGHT = 320, 110


def roll_svg(sequence: NoteSequence | None, title: str = "", color: str = "#2b7bb9") -> str:
    """An SVG piano roll of a quantised sequence: pitch up, 16th steps across, bar lines."""
    notes = list(quantize(sequence).notes) if sequence is not None and sequence.notes else []
    steps = max([STEPS_PER_BAR] + [n.quantized_end_step for n in notes])
    steps = -(-steps // STEPS_PER_BAR) * STEPS_PER_BAR
    low = min([60] + [n.pitch for n in notes]) - 2
    high = max([72] + [n.pitch for n in notes]) + 2
    sx, sy = WIDTH / steps, (HEIGHT - 14) / (high - low + 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" class="hmm-roll" '
             f'data-notes="{len(notes)}"><rect width="100%" height="100%" fill="#fafafa"/>',
             f'<text x="2" y="11" font-size="10" fill="#555">{html.escape(title)}'
             f'{"" if notes else " (silence)"}</text>']
    for step in range(0, steps + 1, 4):
        stroke = "#999" if step % STEPS_PER_BAR == 0 else "#e4e4e4"
        parts.append(f'<line x1="{step * sx:.1f}" y1="14" x2="{step * sx:.1f}" y2="{HEIGHT}" stroke="{stroke}"/>')
    for n in notes:
        y = 14 + (high - n.pitch) * sy
        parts.append(f'<rect x="{n.quantized_start_step * sx:.1f}" y="{y:.1f}" rx="1" '
                     f'width="{max(1.0, (n.quantized_end_step - n.quantized_start_step) * sx - 1):.1f}" '
                     f'height="{max(1.5, sy - 0.5):.1f}" fill="{color}"><title>{n.pitch}</title></rect>')
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

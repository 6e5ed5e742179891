"""The time grid everything shares: 16th-note steps, 4/4 bars (MusicVAE's quantisation).

A module of its own, importing nothing, so the live clock (and the CLI that
checks tempi against it) need not load the music package and note_seq.
"""

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16


def step_seconds(qpm: float) -> float:
    """A 16th note's length in seconds at `qpm` quarter notes a minute."""
    return 60.0 / qpm / STEPS_PER_QUARTER

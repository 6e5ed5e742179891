"""What the project ships in `checkpoints/`: the default models and the jams' clips."""

from dataclasses import dataclass
from pathlib import Path

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
DEFAULT_MODEL = CHECKPOINTS / "mel_2bar_folk"
DRUM_MODEL = CHECKPOINTS / "drums_2bar_groove"
DEMO_CLIPS = CHECKPOINTS / "jam_folk" / "clips.mid"  # 16 two-bar phrases of O'Neill's tunes
UNSEEN_BARS = CHECKPOINTS / "jam_folk" / "unseen.mid"  # 48 bars of held-out tunes, never trained on
DRUM_CLIPS = CHECKPOINTS / "jam_groove" / "clips.mid"  # 16 two-bar Groove MIDI phrases (train split)
DRUM_UNSEEN_BARS = CHECKPOINTS / "jam_groove" / "unseen.mid"  # 48 bars of Groove test recordings, never trained on
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@dataclass(frozen=True)
class Jam:
    """A shipped model with the clips its jam trains on (and plays in the demo), and bars it never trained on."""

    model: Path
    clips: Path
    unseen: Path
    drums: bool = False  # its model answers with drums


MELODY_JAM = Jam(DEFAULT_MODEL, DEMO_CLIPS, UNSEEN_BARS)
DRUM_JAM = Jam(DRUM_MODEL, DRUM_CLIPS, DRUM_UNSEEN_BARS, drums=True)  # `hmm-live jam --drums`

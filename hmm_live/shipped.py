"""What the project ships in `checkpoints/`: the default models and the demo clips."""

from pathlib import Path

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
DEFAULT_MODEL = CHECKPOINTS / "mel_2bar_folk"
DRUM_MODEL = CHECKPOINTS / "drums_2bar_groove"
DEMO_CLIPS = CHECKPOINTS / "jam_folk" / "clips.mid"  # 16 two-bar phrases of O'Neill's tunes
UNSEEN_BARS = CHECKPOINTS / "jam_folk" / "unseen.mid"  # 48 bars of held-out tunes, never trained on
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

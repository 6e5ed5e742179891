"""Training MusicVAE on your own MIDI: examples, the objective, the loop, evaluation."""

from hmm_live.training.evaluate import evaluate
from hmm_live.training.examples import Report, extract
from hmm_live.training.train import TrainingRun, train_musicvae

__all__ = ["evaluate", "extract", "Report", "train_musicvae", "TrainingRun"]

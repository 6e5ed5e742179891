"""Held-out metrics of a MusicVAE, as the model cards report them.

- teacher_forced_accuracy: per-step class accuracy, the decoder fed the true
  previous step, z = mu (Magenta's training metric, without sampling noise);
- reconstruction_accuracy: encode to mu, decode greedily on its own outputs,
  per-step class accuracy (what a user hears when a clip is re-decoded);
  `_events` counts only steps that hold an event (a note-on or note-off, or
  a drum hit), since holds and rests dominate the plain figure;
- kl_bits: mean KL(q(z|x) || N(0, I)) per example; r_loss_nats: mean
  teacher-forced cross-entropy per example.

`sampling_realism` asks the other question: do samples look like the data
(`hmm_live.music.realism`, against a ceiling of the data against itself)?
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from hmm_live.errors import ConfigError
from hmm_live.models.musicvae.configs import HParams
from hmm_live.models.musicvae.model import MusicVAE
from hmm_live.music.realism import Reference, halves, windows_of
from hmm_live.training.objective import LN2, Objective
from hmm_live.training.pipeline import eval_dataset


def evaluate(
    model: MusicVAE, labels: np.ndarray, batch_size: int = 512, controls: np.ndarray | None = None
) -> dict[str, Any]:
    """Metrics over label windows [n, num_steps] (see the module docstring); a
    chord-conditioned model needs each window's `controls` [n, num_steps, depth]."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] != model.num_steps or not len(labels):
        raise ConfigError(f"evaluate needs labels [n > 0, {model.num_steps}], got {list(labels.shape)}")
    if (controls is None) != (model.chord_encoder is None):
        raise ConfigError("evaluate needs the windows' chords (controls) exactly when the model is chord-conditioned")
    objective = Objective(model.network, model.data_converter, HParams(batch_size=batch_size))
    forward = tf.function(lambda batch: objective.forward(batch, 0.0, 0.0), autograph=False)
    r_loss, kl, teacher, mus = [], [], [], []
    for batch in eval_dataset(labels, model.z_size, batch_size, controls):
        _, r, k, correct, mu = forward(batch)
        r_loss.append(r.numpy())
        kl.append(k.numpy())
        teacher.append(correct.numpy())
        mus.append(mu.numpy())
    decoded = (
        np.concatenate([model.decode_labels(mu) for mu in mus])
        if controls is None
        else _decode_by_progression(model, np.concatenate(mus), controls)
    )
    hit = decoded == labels
    events = labels != 0
    return {
        "examples": len(labels),
        "teacher_forced_accuracy": round(float(np.concatenate(teacher).mean()), 4),
        "reconstruction_accuracy": round(float(hit.mean()), 4),
        "reconstruction_accuracy_events": round(float(hit[events].mean()), 4) if events.any() else None,
        "kl_bits": round(float(np.concatenate(kl).mean() / LN2), 2),
        "r_loss_nats": round(float(np.concatenate(r_loss).mean()), 3),
    }


def _decode_by_progression(
    model: MusicVAE, z: np.ndarray, controls: np.ndarray, temperature: float | None = None, seed: int = 0
) -> np.ndarray:
    """Labels decoded from z, each row on its own chords [n, num_steps, depth]; rows that
    share their chords decode together."""
    progressions, which = np.unique(controls, axis=0, return_inverse=True)
    decoded = np.zeros((len(z), model.num_steps), np.int64)
    for i, progression in enumerate(progressions):
        rows = np.flatnonzero(which.reshape(-1) == i)
        decoded[rows] = model.decode_labels(z[rows], temperature, progression, seed=seed + i)
    return decoded


def sample_labels(
    model: MusicVAE, n: int, temperature: float | None = 0.5, seed: int = 0, controls: np.ndarray | None = None
) -> np.ndarray:
    """Labels [n, num_steps] of n samples from z ~ N(0, I) (as `MusicVAE.sample`, without the
    sequences); a chord-conditioned model's sample i is on chords `controls[i]`."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, model.z_size)).astype(np.float32)
    if controls is not None:
        return _decode_by_progression(model, z, controls[:n], temperature, int(rng.integers(2**31)))
    return model.decode_labels(z, temperature, seed=int(rng.integers(2**31)))


def sampling_realism(
    model: MusicVAE, labels: np.ndarray, temperature: float = 0.5, seed: int = 0, controls: np.ndarray | None = None
) -> dict[str, Any]:
    """Samples at `temperature` against one half of the windows, next to the ceiling (the other
    half); a chord-conditioned model samples on the ceiling half's chords (`controls` of `labels`)."""
    reference = Reference(model.data_converter, labels)
    chords = None if controls is None else halves(controls)[0]
    return {
        "temperature": temperature,
        "windows_per_set": reference.size,
        "samples": reference.score(
            windows_of(model.data_converter, sample_labels(model, reference.size, temperature, seed, chords))
        ),
        "ceiling": reference.ceiling,
    }

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

A GrooVAE's windows are performances [n, steps, 3 * drums] (`evaluate` on them
calls `evaluate_groove`): teacher-forced hit accuracy, KL and loss as above;
its reconstruction (what the encoder hears, tapped or humanised, encoded to mu
and decoded greedily) is scored per step and drum class by `groove_scores`:
hit precision, recall and F1, velocity and timing error on the hits it got
right. `input_baseline` is what a model should beat: the input played back
with the training data's habits (see there).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from hmm_live.errors import ConfigError, UnsupportedModelError
from hmm_live.models.musicvae.configs import HParams
from hmm_live.models.musicvae.model import MusicVAE
from hmm_live.music.groove import TAP_CLASS, GrooveConverter
from hmm_live.music.realism import Reference, halves, windows_of
from hmm_live.music.sequences import STEPS_PER_BAR
from hmm_live.training.objective import LN2, Objective, groove_inputs
from hmm_live.training.pipeline import eval_dataset


def evaluate(
    model: MusicVAE, labels: np.ndarray, batch_size: int = 512, controls: np.ndarray | None = None
) -> dict[str, Any]:
    """Metrics over label windows [n, num_steps] (see the module docstring); a
    chord-conditioned model needs each window's `controls` [n, num_steps, depth]."""
    labels = np.asarray(labels)
    if model.data_converter.continuous:
        return evaluate_groove(model, labels, batch_size)
    if labels.ndim != 2 or labels.shape[1] != model.num_steps or not len(labels):
        raise ConfigError(f"evaluate needs labels [n > 0, {model.num_steps}], got {list(labels.shape)}")
    if model.extra_controls:
        raise UnsupportedModelError(
            f"evaluating a model with extra controls ({', '.join(name for name, _ in model.extra_controls)}) "
            f"is not supported by hmm_live"
        )
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


def evaluate_groove(model: MusicVAE, grooves: np.ndarray, batch_size: int = 512) -> dict[str, Any]:
    """A GrooVAE's metrics over performance windows [n, num_steps, 3 * drums] (module docstring)."""
    grooves = np.asarray(grooves, np.float32)
    if grooves.ndim != 3 or grooves.shape[1:] != (model.num_steps, model.spec.output_depth) or not len(grooves):
        raise ConfigError(
            f"evaluate needs grooves [n > 0, {model.num_steps}, {model.spec.output_depth}], got {list(grooves.shape)}"
        )
    objective = Objective(model.network, model.data_converter, HParams(batch_size=batch_size))
    forward = tf.function(lambda batch: objective.forward(batch, 0.0, 0.0), autograph=False)
    r_loss, kl, teacher, mus = [], [], [], []
    for batch in eval_dataset(grooves, model.z_size, batch_size):
        _, r, k, correct, mu = forward(batch)
        r_loss.append(r.numpy())
        kl.append(k.numpy())
        teacher.append(correct.numpy())
        mus.append(mu.numpy())
    return {
        "examples": len(grooves),
        "teacher_forced_hit_accuracy": round(float(np.concatenate(teacher).mean()), 4),
        "kl_bits": round(float(np.concatenate(kl).mean() / LN2), 2),
        "r_loss": round(float(np.concatenate(r_loss).mean()), 3),
        "reconstruction": groove_scores(np.concatenate([model.decode_labels(mu) for mu in mus]), grooves),
    }


def groove_scores(predicted: np.ndarray, target: np.ndarray) -> dict[str, float | None]:
    """Performances [n, steps, 3 * drums] against the true ones, per step and drum class: hit
    precision, recall, F1 and accuracy; on the hits both have, the mean absolute velocity error
    (MIDI velocity, 0..127) and timing error (in 16th-note steps: 0.1 is 12.5 ms at 120 bpm)."""
    drums = target.shape[-1] // 3
    hit, true = predicted[..., :drums] > 0.5, target[..., :drums] > 0.5
    both = hit & true
    precision = both.sum() / max(hit.sum(), 1)
    recall = both.sum() / max(true.sum(), 1)

    def error(column: int, scale: float) -> float:
        part = slice(column * drums, (column + 1) * drums)
        return round(float(np.abs(predicted[..., part] - target[..., part])[both].mean() * scale), 4)

    return {
        "hit_precision": round(float(precision), 4),
        "hit_recall": round(float(recall), 4),
        "hit_f1": round(float(2 * precision * recall / max(precision + recall, 1e-12)), 4),
        "hit_accuracy": round(float((hit == true).mean()), 4),
        "velocity_error": error(1, 127.0) if both.any() else None,
        "timing_error_steps": error(2, 0.5) if both.any() else None,  # offsets are in half steps
    }


def input_baseline(model: MusicVAE, train: np.ndarray, grooves: np.ndarray) -> np.ndarray:
    """What a tap2drum or humanize GrooVAE must beat: each performance [n, steps, 3 * drums] guessed
    from what its encoder hears, with the habits of the `train` performances and no model.

    tap2drum: a drum machine that knows where in the bar it is: a tap on the bar's 16th p plays
    the drum classes that most training taps on p had (at least the likeliest one; a 16th never
    tapped in training: those of all taps), at the tap's timing; humanize: the drums heard, on time. Each hit at its class's mean training velocity."""
    converter = model.data_converter
    if not isinstance(converter, GrooveConverter) or not (converter.tapify or converter.humanize):
        raise ConfigError(f"input_baseline is for tap2drum and humanize GrooVAEs, not {model!r}")
    d = converter.num_drums
    heard = groove_inputs(converter, tf.constant(grooves, tf.float32)).numpy()
    hits = train[..., :d] > 0.5
    velocity = (train[..., d : 2 * d] * hits).sum((0, 1)) / np.maximum(hits.sum((0, 1)), 1)
    guess = np.zeros_like(grooves)
    if converter.tapify:
        tapped = np.any(hits, axis=-1)  # a training step's tap: any hit (`groove_inputs`)
        at = np.arange(train.shape[1]) % STEPS_PER_BAR == np.arange(STEPS_PER_BAR)[:, None]  # [16th, step]
        share = np.stack([hits[:, p].sum((0, 1)) / max(tapped[:, p].sum(), 1) for p in at])  # [16th, class]
        untapped = ~np.array([tapped[:, p].any() for p in at])
        share[untapped] = hits.sum((0, 1)) / max(tapped.sum(), 1)  # a 16th never tapped: any 16th's habits
        played = (share > 0.5) | ((share == share.max(-1, keepdims=True)) & (share > 0))
        taps = heard[..., TAP_CLASS : TAP_CLASS + 1] > 0.5
        guess[..., :d] = taps & played[np.arange(grooves.shape[1]) % STEPS_PER_BAR]
        guess[..., 2 * d :] = guess[..., :d] * heard[..., 2 * d + TAP_CLASS : 2 * d + TAP_CLASS + 1]
    else:
        guess[..., :d] = heard[..., :d]
    guess[..., d : 2 * d] = guess[..., :d] * velocity
    return guess


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

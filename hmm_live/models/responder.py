"""The Sequence Responder: places one bar the performer just played in the subspace.

A small CNN from a one-bar piano roll to a subspace point, trained with MSE on
every bar of every clip paired with its clip's subspace mean. The first
convolution spans all pitches and 5 steps, wrapping around the bar: the bar is
heard as a loop, which also makes the 16 time rotations used as augmentation
cheap (the convolution of a rotated bar is the rotated convolution, so it runs
once per bar, not once per rotation).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from hmm_live.errors import CheckpointError, ConfigError, SequenceError
from hmm_live.models.live_model import Callback, LiveModel, StatelessNet
from hmm_live.models.subspacer import Subspacer
from hmm_live.music.melody import MelodyConverter
from hmm_live.music.clips import PITCHES, Bar, ClipLibrary, to_roll
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence

# A shape is what the first convolution sees (the roll as played; the roll moved so that its
# mean pitch is middle E (64), which makes transposed playing look the same; or 12 pitch
# classes) and the network's width: (input, filters, steps, filters2). "roll" is the issue's
# original design; "wide" memorises more bars, which measured best (bench/subspace.py).
SHAPES = {"roll": ("roll", 16, 5, 8), "centred": ("centred", 16, 5, 8),
          "pitch_class": ("pitch_class", 16, 5, 8), "wide": ("centred", 64, 3, 32)}


def bar_features(shape: str) -> keras.Model:
    """A bar [16 steps, 128 pitches] -> [16 steps, filters], circular in time."""
    source, filters, width, _ = SHAPES[shape]
    roll = keras.Input((STEPS_PER_BAR, PITCHES), name="bar")
    x = roll
    if source == "pitch_class":  # fold octaves: transposing by octaves changes nothing
        x = layers.Dense(12, use_bias=False, trainable=False, name="fold",
                         kernel_initializer=keras.initializers.Constant(np.eye(12)[np.arange(PITCHES) % 12]))(x)
    pad = width // 2
    x = layers.Lambda(lambda t: keras.ops.concatenate([t[:, -pad:], t, t[:, :pad]], axis=1), name="wrap")(x)
    x = layers.Conv1D(filters, width, activation="relu", name="all_pitches")(x)
    return keras.Model(roll, x, name="bar_features")


def response_head(shape: str, latent_dims: int) -> keras.Model:
    """Features of a bar [16, filters] -> a subspace point [latent_dims]."""
    _, filters, _, filters2 = SHAPES[shape]
    features = keras.Input((STEPS_PER_BAR, filters), name="features")
    x = layers.MaxPooling1D(2)(features)
    x = layers.Conv1D(filters2, 3, activation="relu")(x)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Flatten()(x)
    point = layers.Dense(latent_dims, name="point")(x)
    return keras.Model(features, point, name="response_head")


class Responder(LiveModel):
    """`predict(bar) -> point` in its subspacer's space."""

    kind = "responder"

    def __init__(self, subspacer: Subspacer, shape: str | None = None, transpose: int = 0,
                 learning_rate: float = 3e-3, batch_size: int | None = None, validation_split: float = 0.1,
                 seed: int = 0):
        """`shape` (one of SHAPES) defaults to "wide" for melody models (it measured
        best on transposed and edited bars) and "roll" for drums. `transpose`: each
        training batch is moved by a random amount within +-transpose semitones.
        `batch_size` counts bars (each in 16 rotations); None makes 8 batches an epoch."""
        super().__init__(learning_rate, batch_size, seed)
        if not isinstance(transpose, (int, np.integer)) or not 0 <= transpose <= 12:
            raise ConfigError(f"transpose must be a whole number of semitones from 0 to 12, got {transpose!r}")
        self.transpose = int(transpose)
        if not isinstance(subspacer, Subspacer):
            raise ConfigError(f"Responder needs a Subspacer, got {type(subspacer).__name__}")
        if shape is None:
            shape = "wide" if isinstance(subspacer.musicvae.data_converter, MelodyConverter) else "roll"
        if shape not in SHAPES:
            raise ConfigError(f"unknown responder shape {shape!r}; choose from {', '.join(SHAPES)}")
        if not 0.0 <= validation_split < 1.0:
            raise ConfigError(f"validation_split must be within [0, 1), got {validation_split}")
        self.subspacer, self.shape, self.validation_split = subspacer, shape, float(validation_split)
        self.features = bar_features(shape)
        self.head = response_head(shape, subspacer.latent_dims)
        bars = keras.Input((STEPS_PER_BAR, PITCHES))
        self._init_training(keras.Model(bars, self.head(self.features(bars)), name="responder"))
        self._predict = StatelessNet(self._trainable, self._variables)

    def __repr__(self) -> str:
        return f"Responder({self.shape}, {'trained' if self.trained else 'untrained'}, {self.subspacer.latent_dims}-D)"

    # -- training ------------------------------------------------------------
    def examples(self, clips: ClipLibrary) -> tuple[np.ndarray, np.ndarray]:
        """Every bar of every clip as a roll [n, 16, 128] and its clip's subspace mean [n, d]."""
        if not isinstance(clips, ClipLibrary) or not len(clips):
            raise SequenceError("the Responder learns from a non-empty ClipLibrary")
        mu, _ = self.subspacer.encode(clips)
        rolls = [(clip.rolls(), mu[i]) for i, clip in enumerate(clips)]
        x = self._inputs(np.concatenate([r for r, _ in rolls]))
        y = np.concatenate([np.repeat(m[np.newaxis], len(r), 0) for r, m in rolls])
        return x.astype(np.float32), y.astype(np.float32)

    def fit(self, clips: ClipLibrary, epochs: int = 100, callbacks: Sequence[Callback] | None = None,
            verbose: int = 0) -> dict[str, list[float]]:
        """Learn to place each clip's bars (in all 16 rotations) at the clip's mean, from fresh weights.

        A random `validation_split` of the bars (all their rotations) is held out
        and reported as val_loss.
        """
        return self._fit(clips, epochs, callbacks, verbose)

    def _fit_locked(self, clips: ClipLibrary, epochs: int = 100, callbacks: Sequence[Callback] | None = None,
                    verbose: int = 0) -> dict[str, list[float]]:
        x, y = self.examples(clips)
        order = np.random.default_rng(self.seed).permutation(len(x))
        n_val = int(round(len(x) * self.validation_split)) if len(x) > 1 else 0
        val, train = order[:n_val], order[n_val:]
        history = self._train(x[train], y[train], epochs, callbacks, verbose, (x[val], y[val]))
        self._publish({}, {"subspacer": self.subspacer.fingerprint(), "bars": len(x),
                           "epochs": len(history["loss"]), "loss": history["loss"][-1],
                           "val_loss": (history.get("val_loss") or [None])[-1]})
        return history

    def _inputs(self, rolls: np.ndarray) -> np.ndarray:
        """Rolls [n, 128, 16] -> network inputs [n, 16, 128] (centred if the shape's input is)."""
        if SHAPES[self.shape][0] == "centred":
            weights = rolls.sum(axis=2)
            mean = (weights @ np.arange(PITCHES)) / np.maximum(weights.sum(axis=1), 1e-9)
            shifts = np.where(weights.sum(axis=1) > 0, PITCHES // 2 - np.floor(mean + 0.5), 0).astype(int)
            rolls = np.stack([np.roll(r, k, axis=0) for r, k in zip(rolls, shifts)])
        return rolls.transpose(0, 2, 1).astype(np.float32)

    def _io_shapes(self):
        return (STEPS_PER_BAR, PITCHES), (self.subspacer.latent_dims,)

    def _losses(self, x, y, seed, training):
        """MSE to the clip mean, over all 16 rotations of each bar (randomly transposed in training)."""
        if training and self.transpose:
            x = tf.roll(x, tf.random.stateless_uniform([], seed, -self.transpose, self.transpose + 1, tf.int32), 2)
        features = self.features(x)
        rotated = tf.concat([tf.roll(features, r, axis=1) for r in range(STEPS_PER_BAR)], axis=0)
        predicted = self.head(rotated)
        return {"loss": tf.reduce_mean(tf.square(predicted - tf.tile(y, [STEPS_PER_BAR, 1])))}

    # -- live ----------------------------------------------------------------
    def predict(self, bar: Bar | Sequence[Bar]) -> np.ndarray:
        """A bar (NoteSequence, [128, 16] roll or (step, pitch) hits) -> a point [latent_dims].

        A list of NoteSequences or an array of rolls [n, 128, 16] gives points [n, latent_dims].
        """
        published = self._require()
        many = (isinstance(bar, np.ndarray) and bar.ndim == 3) or (
            isinstance(bar, (list, tuple)) and len(bar) > 0 and isinstance(bar[0], NoteSequence))
        rolls = self._inputs(np.stack([to_roll(b) for b in (bar if many else [bar])]))
        points = self._predict(published, rolls)
        return points if many else points[0]

    @property
    def stale(self) -> bool:
        """True when the subspacer was retrained after this responder: refit it."""
        return self.trained and self.subspacer.trained and (
            self._require().info.get("subspacer") != self.subspacer.fingerprint())

    # -- saving ----------------------------------------------------------------
    def _config(self) -> dict:
        return {"shape": self.shape, "transpose": self.transpose, "learning_rate": self.learning_rate, "batch_size": self.batch_size,
                "validation_split": self.validation_split, "seed": self.seed}

    @classmethod
    def load(cls, path: str | Path, subspacer: Subspacer) -> "Responder":
        """A saved responder, checked to belong to this (trained) subspacer."""
        path = Path(path)
        meta, arrays = cls._read(path)
        expected = (meta.get("info") or {}).get("subspacer")
        if not subspacer.trained or expected != subspacer.fingerprint():
            have = subspacer.fingerprint() if subspacer.trained else "an untrained one"
            raise CheckpointError(f"{path} was trained for subspacer {expected}, not {have}: "
                                  f"load the subspacer saved with it, or refit the responder")
        try:
            model = cls(subspacer, **(meta.get("config") or {}))
        except (TypeError, ConfigError) as e:
            raise CheckpointError(f"{path / 'model.json'} has an invalid config: {e}") from None
        model._restore(path, meta, arrays, ())
        return model

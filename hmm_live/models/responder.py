"""The Sequence Responder: places one bar the performer just played in the subspace.

A small CNN from a one-bar piano roll to a subspace point, trained on every bar
of every clip paired with its clip's subspace mean. The bar is heard as a loop:
convolutions wrap around it in time, and every time rotation of a bar (for
captures that start off the downbeat) is learned to land on the same point.

Two shapes (bench/subspace.py measures both):
 - "roll", the first design: a convolution over all 128 pitches x 5
   steps (16 filters), pooling, a 1 x 3 convolution (8 filters), pooling, a
   linear dense layer. It sees the roll as played; trained on all 16 rotations.
 - "pooled", the default for melody models: the bar is first moved so that the
   middle of its pitch range is middle E, so transposed playing looks the same;
   two wider convolutions, then max and mean pooling over the whole bar, which
   makes it blind to rotation by construction (no rotations to train on), and
   a small dense layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from hmm_live.errors import CheckpointError, ConfigError, SequenceError
from hmm_live.models.live_model import History, LiveModel, StatelessNet, Training
from hmm_live.models.subspacer import Subspacer
from hmm_live.music.clips import PITCHES, Bar, ClipLibrary, to_roll
from hmm_live.music.melody import MelodyConverter
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence


class Shape(NamedTuple):
    centred: bool  # move the bar so that the middle of its pitch range is middle E
    filters: int  # first convolution: all 128 pitches x `width` steps
    width: int
    filters2: int  # second convolution: 3 steps
    pooled: bool  # pool over the whole bar (rotation-blind) instead of in pairs of steps


SHAPES = {
    "roll": Shape(centred=False, filters=16, width=5, filters2=8, pooled=False),
    "pooled": Shape(centred=True, filters=128, width=5, filters2=128, pooled=True),
}


def wrap(x, pad: int):
    """Pad a [batch, steps, channels] sequence with its own ends: a bar heard as a loop."""
    return layers.Lambda(lambda t: keras.ops.concatenate([t[:, -pad:], t, t[:, :pad]], axis=1))(x)


def bar_features(shape: Shape) -> keras.Model:
    """A bar [16 steps, 128 pitches] -> [16 steps, filters], circular in time."""
    roll = keras.Input((STEPS_PER_BAR, PITCHES), name="bar")
    x = layers.Conv1D(shape.filters, shape.width, activation="relu", name="all_pitches")(wrap(roll, shape.width // 2))
    return keras.Model(roll, x, name="bar_features")


def response_head(shape: Shape, latent_dims: int) -> keras.Model:
    """Features of a bar [16, filters] -> a subspace point [latent_dims]."""
    features = keras.Input((STEPS_PER_BAR, shape.filters), name="features")
    if shape.pooled:
        x = layers.Conv1D(shape.filters2, 3, activation="relu")(wrap(features, 1))
        x = layers.Concatenate()([layers.GlobalMaxPooling1D()(x), layers.GlobalAveragePooling1D()(x)])
        x = layers.Dense(64, activation="relu")(x)
    else:
        x = layers.MaxPooling1D(2)(features)
        x = layers.Conv1D(shape.filters2, 3, activation="relu")(x)
        x = layers.MaxPooling1D(2)(x)
        x = layers.Flatten()(x)
    point = layers.Dense(latent_dims, name="point")(x)
    return keras.Model(features, point, name="response_head")


DEFAULT_EPOCHS = 100  # fit(epochs=None)


class Responder(LiveModel[Training]):
    """`predict(bar) -> point` in its subspacer's space.

    `fit(clips, epochs=None, callbacks=None, verbose=0)` (LiveModel's) learns,
    from fresh weights, to place each bar of each clip of a ClipLibrary (in
    every rotation) at the clip's subspace mean, for `epochs` epochs
    (DEFAULT_EPOCHS when None). A random `validation_split` of the bars (see
    `split`) is held out and reported as val_loss.
    """

    kind = "responder"

    def __init__(
        self,
        subspacer: Subspacer,
        shape: str | None = None,
        contrast: float = 1.0,
        learning_rate: float = 3e-3,
        batch_size: int | None = None,
        validation_split: float = 0.1,
        seed: int = 0,
    ):
        """`shape` (one of SHAPES) defaults to "pooled" for melody models (it measured
        best on transposed and edited bars) and "roll" for drums, whose pitches are
        instruments. The loss is the squared distance to the bar's clip mean plus
        `contrast` times a term that rewards being nearer that mean than any other
        clip's (0: the first design's plain MSE). `batch_size` counts bars; None makes 8
        batches an epoch."""
        super().__init__(learning_rate, batch_size, seed)
        if not isinstance(subspacer, Subspacer):
            raise ConfigError(f"Responder needs a Subspacer, got {type(subspacer).__name__}")
        if shape is None:
            shape = "pooled" if isinstance(subspacer.musicvae.data_converter, MelodyConverter) else "roll"
        if shape not in SHAPES:
            raise ConfigError(f"unknown responder shape {shape!r}; choose from {', '.join(SHAPES)}")
        if not 0.0 <= validation_split < 1.0:
            raise ConfigError(f"validation_split must be within [0, 1), got {validation_split}")
        if not isinstance(contrast, (int, float)) or not 0.0 <= contrast < float("inf"):
            raise ConfigError(f"contrast must be a number >= 0, got {contrast}")
        self.subspacer, self.shape = subspacer, shape
        self.contrast, self.validation_split = float(contrast), float(validation_split)
        self.features = bar_features(SHAPES[shape])
        self.head = response_head(SHAPES[shape], subspacer.latent_dims)
        # the clip means the contrast term compares with, and their typical squared spacing; set per fit
        self._means = tf.Variable(
            np.zeros((1, subspacer.latent_dims), np.float32),
            trainable=False,
            shape=tf.TensorShape([None, subspacer.latent_dims]),
        )
        self._spacing = tf.Variable(1.0, trainable=False)
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

    def split(self, bars: int) -> tuple[np.ndarray, np.ndarray]:
        """(trained, held out) indices into `examples`' bars: the same in every fit with this seed."""
        order = np.random.default_rng(self.seed).permutation(bars)
        held = round(bars * self.validation_split) if bars > 1 else 0
        return np.sort(order[held:]), np.sort(order[:held])

    def _training(self, clips: ClipLibrary, epochs: int | None) -> Training:
        """Every bar of every clip (see `examples`) and its clip's mean, less the bars `split`
        holds out for val_loss; DEFAULT_EPOCHS epochs unless told."""
        x, y = self.examples(clips)
        means = np.unique(y, axis=0)
        gaps = ((means[:, None] - means[None]) ** 2).sum(-1) + np.diag(np.full(len(means), np.inf))
        self._means.assign(means)
        self._spacing.assign(float(np.median(gaps.min(1))) if len(means) > 1 else 1.0)
        train, val = self.split(len(x))
        return Training(
            x=x[train], y=y[train], epochs=DEFAULT_EPOCHS if epochs is None else epochs, validation=(x[val], y[val])
        )

    def _publication(self, training: Training, history: History) -> tuple[dict[str, np.ndarray], dict]:
        """No arrays; the info records which subspacer it was trained for (see `stale`)."""
        held = 0 if training.validation is None else len(training.validation[0])
        val_loss = history.get("val_loss")
        return {}, {
            "subspacer": self.subspacer.fingerprint(),
            "bars": len(training.x) + held,
            "epochs": len(history["loss"]),
            "loss": history["loss"][-1],
            "val_loss": val_loss[-1] if val_loss else None,
        }

    def _inputs(self, rolls: np.ndarray) -> np.ndarray:
        """Rolls [n, 128, 16] -> network inputs [n, 16, 128], centred if the shape is: moved so
        that the middle of the bar's pitch range is middle E. (The range's middle, not the mean
        pitch: dropping an inner note then moves nothing; bench/subspace.py: 81% against 78% rank-1.)"""
        if SHAPES[self.shape].centred:
            played = rolls.sum(axis=2) > 0
            lowest, highest = played.argmax(axis=1), PITCHES - 1 - played[:, ::-1].argmax(axis=1)
            shifts = np.where(played.any(axis=1), PITCHES // 2 - (lowest + highest + 1) // 2, 0)
            rolls = np.stack([np.roll(r, k, axis=0) for r, k in zip(rolls, shifts)])
        return rolls.transpose(0, 2, 1).astype(np.float32)

    def _io_shapes(self):
        return (STEPS_PER_BAR, PITCHES), (self.subspacer.latent_dims,)

    def _losses(self, x, y, seed, training):
        """Squared distance to the clip mean ("mse"), plus `contrast` x the cross-entropy of
        "which clip mean is this bar nearest" ("nearest"), over every rotation of each bar."""
        features = self.features(x)
        if not SHAPES[self.shape].pooled:  # a rotated bar's features are its features rotated
            features = tf.concat([tf.roll(features, r, axis=1) for r in range(STEPS_PER_BAR)], axis=0)
            y = tf.tile(y, [STEPS_PER_BAR, 1])
        predicted = self.head(features)
        own = tf.reduce_sum(tf.square(predicted - y), axis=-1)
        losses = {"mse": tf.reduce_mean(own) / self.subspacer.latent_dims}
        if self.contrast:
            every = tf.reduce_sum(tf.square(predicted[:, None] - self._means[None]), axis=-1)
            nearest = (own - tf.reduce_min(every, axis=1)) / self._spacing + tf.reduce_logsumexp(
                (tf.reduce_min(every, axis=1, keepdims=True) - every) / self._spacing, axis=1
            )
            losses["nearest"] = tf.reduce_mean(nearest)
        losses["loss"] = losses["mse"] + self.contrast * losses.get("nearest", 0.0)
        return losses

    # -- live ----------------------------------------------------------------
    def predict(self, bar: Bar | Sequence[Bar]) -> np.ndarray:
        """A bar (NoteSequence, [128, 16] roll or (step, pitch) hits) -> a point [latent_dims].

        A list of NoteSequences or an array of rolls [n, 128, 16] gives points [n, latent_dims].
        """
        published = self._require()
        many = (isinstance(bar, np.ndarray) and bar.ndim == 3) or (
            isinstance(bar, (list, tuple)) and len(bar) > 0 and isinstance(bar[0], NoteSequence)
        )
        rolls = self._inputs(np.stack([to_roll(b) for b in (bar if many else [bar])]))
        points = self._predict(published, rolls)
        return points if many else points[0]

    @property
    def stale(self) -> bool:
        """True when the subspacer was retrained after this responder: refit it."""
        return (
            self.trained
            and self.subspacer.trained
            and (self._require().info.get("subspacer") != self.subspacer.fingerprint())
        )

    # -- saving ----------------------------------------------------------------
    def _config(self) -> dict:
        return {
            "shape": self.shape,
            "contrast": self.contrast,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "validation_split": self.validation_split,
            "seed": self.seed,
        }

    @classmethod
    def load(cls, path: str | Path, subspacer: Subspacer) -> Responder:
        """A saved responder, checked to belong to this (trained) subspacer."""
        path = Path(path)
        meta, arrays = cls._read(path)
        expected = (meta.get("info") or {}).get("subspacer")
        if not subspacer.trained or expected != subspacer.fingerprint():
            have = subspacer.fingerprint() if subspacer.trained else "an untrained one"
            raise CheckpointError(
                f"{path} was trained for subspacer {expected}, not {have}: "
                f"load the subspacer saved with it, or refit the responder"
            )
        try:
            model = cls(subspacer, **(meta.get("config") or {}))
        except (TypeError, ConfigError) as e:
            raise CheckpointError(f"{path / 'model.json'} has an invalid config: {e}") from None
        model._restore(path, meta, arrays, ())
        return model

"""The VAE Subspacer: a playable 2-D (or n-D) space learned from the performer's clips.

A small VAE whose data are MusicVAE codes (the encoder means of each clip), as
Magenta's MidiMe does: points in the subspace decode to MusicVAE codes, which
MusicVAE decodes to music. The codes are used as they are: standardising
them per dimension was measured to blur the subspace (bench/subspace.py).

A clip *decodes back* when MusicVAE's greedy decode of `decode(clip_mu[i])`
equals its greedy decode of the clip's own code: the subspace keeps what
MusicVAE keeps. (Comparing with the clip itself would also count what
MusicVAE loses, which no subspace can give back, and needs the clips, where a
fit may be given only codes.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from hmm_live import limits
from hmm_live.errors import CheckpointError, ConfigError, SequenceError
from hmm_live.limits import int_list
from hmm_live.models.live_model import Callback, History, LiveModel, StatelessNet, Training
from hmm_live.models.musicvae import MusicVAE
from hmm_live.music.clips import ClipLibrary
from hmm_live.music.sequences import NoteSequence

Clips = ClipLibrary | Sequence[NoteSequence] | np.ndarray

# fit(epochs=None), measured on 16 and 64 folk and chorale clips (bench/subspace.py): MidiMe's VAE
# alone still wavers between 75% and 92% of 64 clips decoding back after 4000 epochs
LAYOUT_EPOCHS = 300  # MidiMe's training that places the clips; then the decoder settles
SETTLE_LEARNING_RATE = 1e-2
CHECK_EVERY = 25  # settling epochs between decode-back checks (one batched greedy decode each)
MAX_EPOCHS = 10_000  # a fit with an unlimited time budget still ends
TIME_BUDGET = 10.0  # fit(epochs=None)'s default seconds
UNTIL = 0.95  # fit(epochs=None)'s default fraction of clips that must decode back


def relu_stack(x, sizes: Sequence[int]):
    for units in sizes:
        x = layers.Dense(units, activation="relu")(x)
    return x


def subspace_encoder(z_size: int, sizes: Sequence[int], latent_dims: int) -> keras.Model:
    codes = keras.Input((z_size,), name="codes")
    x = relu_stack(codes, sizes)
    mu = layers.Dense(latent_dims, name="mu")(x)
    sigma = layers.Dense(latent_dims, activation="softplus", name="sigma")(x)
    return keras.Model(codes, [mu, sigma], name="subspace_encoder")


def subspace_decoder(latent_dims: int, sizes: Sequence[int], z_size: int) -> keras.Model:
    points = keras.Input((latent_dims,), name="points")
    codes = layers.Dense(z_size, name="codes")(relu_stack(points, sizes))
    return keras.Model(points, codes, name="subspace_decoder")


ENCODER_SIZES = (1024, 256, 64)  # MidiMe's


def check_latent_dims(latent_dims: object, musicvae: MusicVAE, encoder_sizes: Sequence[int] = ENCODER_SIZES) -> None:
    """A subspace is smaller than what it encodes: fewer dimensions than the encoder's last layer and z."""
    limit = min([*list(encoder_sizes)[-1:], musicvae.z_size])
    if not isinstance(latent_dims, (int, np.integer)) or not 1 <= latent_dims < limit:
        raise ConfigError(
            f"latent_dims must be a whole number from 1 to {limit - 1} "
            f"(smaller than the encoder's last layer and MusicVAE's z), got {latent_dims!r}"
        )


class Subspacer(LiveModel["_SubspaceTraining"]):
    """`encode` clips to subspace points, `decode` points to MusicVAE codes, `generate` music."""

    kind = "subspacer"
    _arrays = ("clip_mu", "clip_sigma")

    def __init__(
        self,
        musicvae: MusicVAE,
        latent_dims: int = 2,
        beta: float = 1.0,
        encoder_sizes: Sequence[int] = ENCODER_SIZES,
        decoder_sizes: Sequence[int] = (64, 256, 1024),
        learning_rate: float = 1e-3,
        batch_size: int | None = 256,
        seed: int = 0,
    ):
        """MidiMe's shape and optimiser; like MidiMe, each epoch is one batch of the whole set
        (up to `batch_size` clips), which measured both fastest and best (bench/subspace.py)."""
        super().__init__(learning_rate, batch_size, seed)
        if not isinstance(musicvae, MusicVAE):
            raise ConfigError(f"Subspacer needs a MusicVAE, got {type(musicvae).__name__}")
        encoder_sizes, decoder_sizes = (  # bounded before any layer allocates them
            int_list(sizes, name, 1, limits.MAX_LAYER_SIZE, limits.MAX_LAYERS, min_len=0)
            for name, sizes in (("encoder_sizes", encoder_sizes), ("decoder_sizes", decoder_sizes))
        )
        check_latent_dims(latent_dims, musicvae, encoder_sizes)
        if not beta >= 0:
            raise ConfigError(f"beta must be >= 0, got {beta}")
        self.musicvae, self.latent_dims, self.beta = musicvae, int(latent_dims), float(beta)
        self.encoder_sizes, self.decoder_sizes = encoder_sizes, decoder_sizes
        self.identity = musicvae.identity()
        self.encoder = subspace_encoder(musicvae.z_size, self.encoder_sizes, self.latent_dims)
        self.decoder = subspace_decoder(self.latent_dims, self.decoder_sizes, musicvae.z_size)
        codes = keras.Input((musicvae.z_size,))
        self._init_training(keras.Model(codes, self.decoder(self.encoder(codes)[0]), name="subspace_vae"))
        self._settle = self._traced_step(
            lambda x, y, seed: self._losses(x, y, seed, training=True, noise=False),
            self.decoder.trainable_variables,
            SETTLE_LEARNING_RATE,
        )
        self._encode = StatelessNet(self.encoder, self._variables)
        self._decode = StatelessNet(self.decoder, self._variables)

    def __repr__(self) -> str:
        state = f"trained on {len(self.clip_names)} clips" if self.trained else "untrained"
        return f"Subspacer({self.latent_dims}-D, beta={self.beta}, {state}, over {self.musicvae!r})"

    # -- data ----------------------------------------------------------------
    def codes(self, clips: Clips) -> np.ndarray:
        """MusicVAE codes (encoder means) [n, z_size] of clips, or the codes given, checked."""
        if isinstance(clips, np.ndarray):
            codes = clips.astype(np.float32)
            if codes.ndim != 2 or codes.shape[1] != self.musicvae.z_size:
                raise SequenceError(f"codes must have shape [n, {self.musicvae.z_size}], got {list(codes.shape)}")
        else:
            sequences = clips.sequences() if isinstance(clips, ClipLibrary) else list(clips)
            if not sequences:
                raise SequenceError("no clips given: record or load some first")
            codes = self.musicvae.encode(sequences)[1]
        if not len(codes):
            raise SequenceError("no clips given: record or load some first")
        if not np.isfinite(codes).all():
            rows = np.flatnonzero(~np.isfinite(codes).all(axis=1))
            raise SequenceError(f"codes hold NaN or infinite values (rows {rows[:5].tolist()})")
        return codes

    # -- training ------------------------------------------------------------
    def fit(
        self,
        clips: Clips,
        epochs: int | None = None,
        callbacks: Sequence[Callback] | None = None,
        verbose: int = 0,
        names: Sequence[str] | None = None,
        time_budget: float = TIME_BUDGET,
        until: float = UNTIL,
        align_to: Subspacer | None = None,
    ) -> History:
        """Learn the subspace from clips (or their codes); returns the history.

        epochs=None (the default) trains until `until` of the clips decode back
        from their own points (see the module's docstring): MidiMe's VAE places
        the clips (LAYOUT_EPOCHS epochs), then its decoder alone settles,
        trained to decode each clip's mean (not a sample) to the clip's code,
        checked every CHECK_EVERY epochs, until enough decode back or the fit
        has taken `time_budget` seconds; the decoder that decoded back best is
        kept. The budget never cuts the layout short: a map is always whole. A
        whole number trains MidiMe's VAE for exactly that many epochs, as
        Magenta does, with no time budget.

        `align_to`, an earlier subspacer of the same shape over the same
        MusicVAE, keeps the clips it was trained on (matched by name) near
        their places on its map: the fit starts from its weights, lays the
        clips out again only in proportion to how many are new (none: the old
        clips keep their places exactly), and the map is then turned and
        shifted onto the earlier one.

        `info` then reports the epochs run, the fraction of clips that decode
        back, why the fit stopped ("converged", "time budget", "epochs" or
        "callback") and how many clips the map was aligned on. The rest is
        LiveModel.fit's: the lock, callbacks, publishing when the fit ends.
        """
        return self._fit(
            epochs,
            callbacks,
            verbose,
            lambda: self._training(clips, epochs, names=names, time_budget=time_budget, until=until, align_to=align_to),
        )

    def _training(
        self,
        clips: Clips,
        epochs: int | None,
        *,
        names: Sequence[str] | None = None,
        time_budget: float = TIME_BUDGET,
        until: float = UNTIL,
        align_to: Subspacer | None = None,
    ) -> _SubspaceTraining:
        started = time.monotonic()
        if not time_budget > 0:
            raise ConfigError(f"time_budget must be > 0 seconds, got {time_budget!r}")
        if not 0 < until <= 1:
            raise ConfigError(f"until (the fraction of clips that must decode back) must be in (0, 1], got {until!r}")
        self._check_alignable(align_to)
        codes = self.codes(clips)
        if names is None:
            names = clips.names if isinstance(clips, ClipLibrary) else [f"clip {i + 1}" for i in range(len(codes))]
        if len(names) != len(codes):
            raise ConfigError(f"{len(names)} names for {len(codes)} clips")
        converge = epochs is None
        layout = LAYOUT_EPOCHS
        if align_to is not None:  # only as much as the clips are new: any epoch of MidiMe moves every clip
            known = set(align_to.clip_names)
            layout = round(LAYOUT_EPOCHS * sum(name not in known for name in names) / len(names))
        watch = _DecodingBack(
            self, codes, until, started + time_budget if converge else math.inf, layout if converge else math.inf
        )
        return _SubspaceTraining(
            x=codes,
            y=codes,
            epochs=MAX_EPOCHS if epochs is None else epochs,
            then=(layout, self._settle) if converge else None,
            start=None if align_to is None else align_to._require().weights,
            callbacks=[watch],
            names=list(names),
            watch=watch,
            align_to=align_to,
        )

    def _publication(self, training: _SubspaceTraining, history: History) -> tuple[dict[str, np.ndarray], dict]:
        """The clips' places on the map (turned onto `align_to`'s first) and how the fit went."""
        codes, names = training.x, training.names
        aligned_on = (
            0
            if training.align_to is None
            else self._align(names, np.asarray(self.encoder(codes)[0]), training.align_to)
        )
        mu, sigma = self.encoder(codes)
        ran = len(history["loss"])
        stopped = training.watch.reason or ("epochs" if ran == training.epochs else "callback")
        return (
            {"clip_mu": np.asarray(mu), "clip_sigma": np.asarray(sigma)},
            {
                "clips": list(map(str, names)),
                "epochs": ran,
                "loss": history["loss"][-1],
                "decodes_back": training.watch.fraction,
                "stopped": stopped,
                "aligned_on": aligned_on,
            },
        )

    def _io_shapes(self):
        return (self.musicvae.z_size,), (self.musicvae.z_size,)

    def _losses(self, x, y, seed, training, noise: bool = True):
        """MidiMe's loss: squared error / 2 summed over code dims, plus beta * KL; without noise,
        the codes are decoded from the means (the decoder settling)."""
        mu, sigma = self.encoder(x)
        z = mu + sigma * tf.random.stateless_normal(tf.shape(mu), seed) if noise else mu
        se = tf.reduce_mean(tf.reduce_sum(tf.square(y - self.decoder(z)) / 2.0, -1))
        kl = tf.reduce_mean(
            -0.5 * tf.reduce_sum(1.0 + tf.math.log(tf.square(sigma) + 1e-8) - tf.square(mu) - tf.square(sigma), -1)
        )
        return {"loss": se + self.beta * kl, "reconstruction": se, "kl": kl}

    def _decoding_back(self, codes: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """[n] bool: which codes the networks being trained decode back to their reference labels."""
        return (self.musicvae.decode_labels(self._trainable(codes)) == reference).all(axis=1)

    def _check_alignable(self, previous: Subspacer | None) -> None:
        if previous is None:
            return
        if not isinstance(previous, Subspacer) or not previous.trained:
            raise ConfigError(f"align_to must be a trained Subspacer, got {previous!r}")
        shapes = [tuple(v.shape) for v in self._variables]
        if previous.identity != self.identity or [tuple(w.shape) for w in previous._require().weights] != shapes:
            raise ConfigError(
                f"align_to must be a subspacer of this shape ({self.latent_dims}-D, encoder "
                f"{list(self.encoder_sizes)}, decoder {list(self.decoder_sizes)}) over this "
                f"MusicVAE, got {previous!r}"
            )

    def _align(self, names: list[str], mu: np.ndarray, previous: Subspacer) -> int:
        """Turn (rotate or reflect) and shift the map onto `previous` on the clips both know, by
        name; returns how many. Orthogonal Procrustes, folded into the encoder's last layers and
        the decoder's first, so that the network itself works in the aligned coordinates. No
        scaling: the spread stays the VAE's, so the sigmas stay valid."""
        old = {name: i for i, name in enumerate(previous.clip_names)}
        shared = [i for i, name in enumerate(names) if name in old]
        if not shared:
            return 0
        a, b = previous.clip_mu[[old[names[i]] for i in shared]], mu[shared]
        u, _, vt = np.linalg.svd((b - b.mean(0)).T @ (a - a.mean(0)))
        turn = (u @ vt).astype(np.float32)
        shift = (a.mean(0) - b.mean(0) @ turn).astype(np.float32)
        # mu' = mu @ turn + shift; each new axis takes the sigma of the axes it came from, in
        # proportion (exact for swaps and reflections: a turned ellipse is no longer axis-aligned)
        mean, sigma = self.encoder.get_layer("mu"), self.encoder.get_layer("sigma")
        mean.kernel.assign(mean.kernel.numpy() @ turn)
        mean.bias.assign(mean.bias.numpy() @ turn + shift)
        sigma.kernel.assign(sigma.kernel.numpy() @ turn**2)
        sigma.bias.assign(sigma.bias.numpy() @ turn**2)
        # the decoder undoes it: points @ kernel == (points' - shift) @ turn.T @ kernel
        first = next(layer for layer in self.decoder.layers if isinstance(layer, layers.Dense))
        kernel = turn.T @ first.kernel.numpy()
        first.kernel.assign(kernel)
        first.bias.assign(first.bias.numpy() - shift @ kernel)
        return len(shared)

    # -- the trained map -------------------------------------------------------
    @property
    def clip_names(self) -> list[str]:
        return list(self._require().info["clips"]) if self.trained else []

    @property
    def clip_mu(self) -> np.ndarray:
        """Subspace means of the training clips, [n, latent_dims] (the map's dots)."""
        return self._require().arrays["clip_mu"]

    @property
    def clip_sigma(self) -> np.ndarray:
        return self._require().arrays["clip_sigma"]

    def decodes_back(self, clips: Clips) -> np.ndarray:
        """[n] bool: which clips decode back from their own points (see the module's docstring)."""
        codes = self.codes(clips)
        return (
            self.musicvae.decode_labels(self.decode(self.encode(codes)[0])) == self.musicvae.decode_labels(codes)
        ).all(axis=1)

    # -- Magenta-style API -----------------------------------------------------
    def encode(self, clips: Clips) -> tuple[np.ndarray, np.ndarray]:
        """Clips (or MusicVAE codes) -> (mu, sigma) in the subspace, each [n, latent_dims]."""
        mu, sigma = self._encode(self._require(), self.codes(clips))
        return mu, sigma

    def decode(self, points: np.ndarray | Sequence[float]) -> np.ndarray:
        """Subspace points [n, latent_dims] (or one point) -> MusicVAE codes [n, z_size]."""
        published = self._require()
        points = np.asarray(points, np.float32)
        if points.ndim == 1:
            points = points[np.newaxis]
        if points.ndim != 2 or points.shape[1] != self.latent_dims or not np.isfinite(points).all():
            raise ConfigError(
                f"points must be finite with shape [n, {self.latent_dims}], got "
                f"{list(points.shape)}{'' if np.isfinite(points).all() else ' with NaNs'}"
            )
        return self._decode(published, points)

    def generate(
        self,
        points: np.ndarray | Sequence[float],
        temperature: float | None = None,
        chords: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> list[NoteSequence]:
        """Subspace points -> NoteSequences through MusicVAE (greedy when temperature is None)."""
        return self.musicvae.decode(self.decode(points), temperature, chords, seed=seed)

    # -- saving ------------------------------------------------------------------
    def _config(self) -> dict:
        return {
            "latent_dims": self.latent_dims,
            "beta": self.beta,
            "encoder_sizes": self.encoder_sizes,
            "decoder_sizes": self.decoder_sizes,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "musicvae": self.identity,
        }

    @classmethod
    def load(cls, path: str | Path, musicvae: MusicVAE) -> Subspacer:
        """A saved subspacer, checked to belong to this MusicVAE."""
        path = Path(path)
        meta, arrays = cls._read(path)
        config = dict(meta.get("config") or {})
        saved = config.pop("musicvae", None)
        if saved != musicvae.identity():
            raise CheckpointError(
                f"{path} was trained on another MusicVAE ({_describe(saved)}) than the one given "
                f"({_describe(musicvae.identity())}): load its MusicVAE, or retrain the subspace"
            )
        try:
            model = cls(musicvae, **config)
        except (TypeError, ConfigError) as e:
            raise CheckpointError(f"{path / 'model.json'} has an invalid config: {e}") from None
        model._restore(path, meta, arrays, cls._arrays)
        return model


@dataclass(kw_only=True)
class _SubspaceTraining(Training):
    """A Subspacer fit's plan, with what its publication needs."""

    names: list[str]
    watch: _DecodingBack
    align_to: Subspacer | None


class _DecodingBack(keras.callbacks.Callback):
    """Stops a settling fit once `until` of its clips decode back, or at the deadline. Checks every
    CHECK_EVERY epochs after epoch `settle`, and at the end, where it keeps the best decoder."""

    def __init__(self, subspacer: Subspacer, codes: np.ndarray, until: float, deadline: float, settle: float):
        super().__init__()
        self.subspacer, self.codes, self.until, self.deadline, self.settle = subspacer, codes, until, deadline, settle
        self.reference = subspacer.musicvae.decode_labels(codes)
        self.fraction = 0.0
        self.best: tuple[float, list[np.ndarray]] | None = None  # (fraction, decoder weights) of the best check
        self.reason: str | None = None  # why the fit stops, once it should
        self.epoch = self.checked = -1

    def check(self) -> None:
        self.fraction = float(self.subspacer._decoding_back(self.codes, self.reference).mean())
        self.checked = self.epoch
        if self.best is None or self.fraction > self.best[0]:
            self.best = (self.fraction, [v.numpy() for v in self.subspacer.decoder.trainable_variables])

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch
        if epoch + 1 <= self.settle:
            return
        if (epoch + 1 - self.settle) % CHECK_EVERY == 0:
            self.check()
            if self.fraction >= self.until:
                self.reason = "converged"
        if self.reason is None and time.monotonic() >= self.deadline:
            self.reason = "time budget"
        if self.reason:
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.checked != self.epoch:
            self.check()
        best = self.best  # set: check() ran at the last epoch
        if best is not None and best[0] > self.fraction:
            self.fraction = best[0]
            for v, w in zip(self.subspacer.decoder.trainable_variables, best[1]):
                v.assign(w)


def _describe(identity: dict | None) -> str:
    if not isinstance(identity, dict):
        return "unknown"
    return f"{identity.get('config')}, z {identity.get('z_size')}, weights {identity.get('weights_sha256')}"

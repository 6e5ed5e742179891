"""The VAE Subspacer: a playable 2-D (or n-D) space learned from the performer's clips.

A small VAE whose data are MusicVAE codes (the encoder means of each clip), as
Magenta's MidiMe does: points in the subspace decode to MusicVAE codes, which
MusicVAE decodes to music. The codes are used as they are: standardising
them per dimension was measured to blur the subspace (bench/subspace.py).
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
from hmm_live.models.musicvae import MusicVAE
from hmm_live.music.clips import ClipLibrary
from hmm_live.music.sequences import NoteSequence

Clips = ClipLibrary | Sequence[NoteSequence] | np.ndarray


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


class Subspacer(LiveModel):
    """`encode` clips to subspace points, `decode` points to MusicVAE codes, `generate` music."""

    kind = "subspacer"
    _arrays = ("clip_mu", "clip_sigma")

    def __init__(self, musicvae: MusicVAE, latent_dims: int = 2, beta: float = 1.0,
                 encoder_sizes: Sequence[int] = (1024, 256, 64), decoder_sizes: Sequence[int] = (64, 256, 1024),
                 learning_rate: float = 1e-3, batch_size: int | None = 256, seed: int = 0):
        """MidiMe's shape and optimiser; like MidiMe, each epoch is one batch of the whole set
        (up to `batch_size` clips), which measured both fastest and best (bench/subspace.py)."""
        super().__init__(learning_rate, batch_size, seed)
        if not isinstance(musicvae, MusicVAE):
            raise ConfigError(f"Subspacer needs a MusicVAE, got {type(musicvae).__name__}")
        limit = min(list(encoder_sizes)[-1:] or [musicvae.z_size])
        if not isinstance(latent_dims, (int, np.integer)) or not 1 <= latent_dims < min(limit, musicvae.z_size):
            raise ConfigError(f"latent_dims must be a whole number from 1 to {min(limit, musicvae.z_size) - 1} "
                              f"(smaller than the encoder's last layer and MusicVAE's z), got {latent_dims!r}")
        if not beta >= 0:
            raise ConfigError(f"beta must be >= 0, got {beta}")
        self.musicvae, self.latent_dims, self.beta = musicvae, int(latent_dims), float(beta)
        self.encoder_sizes, self.decoder_sizes = tuple(map(int, encoder_sizes)), tuple(map(int, decoder_sizes))
        self.identity = musicvae.identity()
        self.encoder = subspace_encoder(musicvae.z_size, self.encoder_sizes, self.latent_dims)
        self.decoder = subspace_decoder(self.latent_dims, self.decoder_sizes, musicvae.z_size)
        codes = keras.Input((musicvae.z_size,))
        self._init_training(keras.Model(codes, self.decoder(self.encoder(codes)[0]), name="subspace_vae"))
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
    def fit(self, clips: Clips, epochs: int = 100, callbacks: Sequence[Callback] | None = None,
            verbose: int = 0, names: Sequence[str] | None = None) -> dict[str, list[float]]:
        """Learn the subspace from clips (or their codes), from fresh weights; returns the history.

        Callbacks are Keras callbacks or `f(epoch, logs)`; the new model is used
        from the moment fit returns, never before.
        """
        return self._fit(clips, epochs, callbacks, verbose, names)

    def _fit_locked(self, clips: Clips, epochs: int = 100, callbacks: Sequence[Callback] | None = None,
                    verbose: int = 0, names: Sequence[str] | None = None) -> dict[str, list[float]]:
        codes = self.codes(clips)
        if names is None:
            names = clips.names if isinstance(clips, ClipLibrary) else [f"clip {i + 1}" for i in range(len(codes))]
        if len(names) != len(codes):
            raise ConfigError(f"{len(names)} names for {len(codes)} clips")
        history = self._train(codes, codes, epochs, callbacks, verbose)
        mu, sigma = self.encoder(codes)
        self._publish({"clip_mu": np.asarray(mu), "clip_sigma": np.asarray(sigma)},
                      {"clips": list(map(str, names)), "epochs": len(history["loss"]),
                       "loss": history["loss"][-1]})
        return history

    def _io_shapes(self):
        return (self.musicvae.z_size,), (self.musicvae.z_size,)

    def _losses(self, x, y, seed, training):
        """MidiMe's loss: squared error / 2 summed over code dims, plus beta * KL."""
        mu, sigma = self.encoder(x)
        z = mu + sigma * tf.random.stateless_normal(tf.shape(mu), seed)
        se = tf.reduce_mean(tf.reduce_sum(tf.square(y - self.decoder(z)) / 2.0, -1))
        kl = tf.reduce_mean(-0.5 * tf.reduce_sum(1.0 + tf.math.log(tf.square(sigma) + 1e-8)
                                                 - tf.square(mu) - tf.square(sigma), -1))
        return {"loss": se + self.beta * kl, "reconstruction": se, "kl": kl}

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
            raise ConfigError(f"points must be finite with shape [n, {self.latent_dims}], got "
                              f"{list(points.shape)}{'' if np.isfinite(points).all() else ' with NaNs'}")
        return self._decode(published, points)

    def generate(self, points: np.ndarray | Sequence[float], temperature: float | None = None,
                 chords: Sequence[str] | None = None, seed: int | None = None) -> list[NoteSequence]:
        """Subspace points -> NoteSequences through MusicVAE (greedy when temperature is None)."""
        return self.musicvae.decode(self.decode(points), temperature, chords, seed=seed)

    # -- saving ------------------------------------------------------------------
    def _config(self) -> dict:
        return {"latent_dims": self.latent_dims, "beta": self.beta, "encoder_sizes": self.encoder_sizes,
                "decoder_sizes": self.decoder_sizes, "learning_rate": self.learning_rate,
                "batch_size": self.batch_size, "seed": self.seed, "musicvae": self.identity}

    @classmethod
    def load(cls, path: str | Path, musicvae: MusicVAE) -> "Subspacer":
        """A saved subspacer, checked to belong to this MusicVAE."""
        path = Path(path)
        meta, arrays = cls._read(path)
        config = dict(meta.get("config") or {})
        saved = config.pop("musicvae", None)
        if saved != musicvae.identity():
            raise CheckpointError(
                f"{path} was trained on another MusicVAE ({_describe(saved)}) than the one given "
                f"({_describe(musicvae.identity())}): load its MusicVAE, or retrain the subspace")
        try:
            model = cls(musicvae, **config)
        except (TypeError, ConfigError) as e:
            raise CheckpointError(f"{path / 'model.json'} has an invalid config: {e}") from None
        model._restore(path, meta, arrays, cls._arrays)
        return model


def _describe(identity: dict | None) -> str:
    if not isinstance(identity, dict):
        return "unknown"
    return f"{identity.get('config')}, z {identity.get('z_size')}, weights {identity.get('weights_sha256')}"

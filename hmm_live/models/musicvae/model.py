"""MusicVAE: Magenta's API (encode, decode, sample, interpolate, similar) on Keras 3."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from hmm_live.errors import CheckpointError, ChordError, ConfigError, SequenceError
from hmm_live.limits import naming
from hmm_live.models.musicvae import catalog, checkpoints
from hmm_live.models.musicvae.groove_decoder import GrooveDecoder
from hmm_live.models.musicvae.lite import LiteFunction
from hmm_live.models.musicvae.network import Decoder, MusicVAENetwork, NetworkSpec
from hmm_live.music.chords import ChordEncoder
from hmm_live.music.converters import DataConverter, converter_from_spec
from hmm_live.music.groove import GrooveConverter
from hmm_live.music.sequences import NoteSequence

ArrayLike = np.ndarray | Sequence[Sequence[float]]
ExtraControls = Mapping[str, ArrayLike]  # control name -> [num_steps, depth] values


class MusicVAE:
    """A MusicVAE bound to its data converter (and chord encoder and extra controls, if conditioned)."""

    def __init__(
        self,
        spec: NetworkSpec,
        data_converter: DataConverter,
        chord_encoder: ChordEncoder | None = None,
        config: str | None = None,
        extra_controls: Sequence[tuple[str, int]] = (),
    ):
        """extra_controls: (name, depth) of each control signal beyond chords (magenta-js's
        extraControls), in the order the network reads them after the chords."""
        if data_converter.input_depth != spec.input_depth or data_converter.output_depth != spec.output_depth:
            raise CheckpointError(
                f"the {data_converter.js_type} reads {data_converter.input_depth} and writes "
                f"{data_converter.output_depth} classes, the network {spec.input_depth} and "
                f"{spec.output_depth} (decoder output_projection): wrong config for this checkpoint?"
            )
        if data_converter.split_depths != spec.split_depths:
            raise CheckpointError(
                f"the {data_converter.js_type} has one decoder per instrument of "
                f"{list(data_converter.split_depths) or 'none'} classes, the network "
                f"{list(spec.split_depths) or 'one decoder for all'}: wrong config for this checkpoint?"
            )
        if data_converter.multi_label != bool(spec.nade_hidden or spec.boolean_output):
            raise CheckpointError(
                f"the {data_converter.js_type} "
                f"{'needs' if data_converter.multi_label else 'cannot use'} a NADE or boolean decoder, and the "
                f"network {'has one' if spec.nade_hidden or spec.boolean_output else 'has neither'}: "
                f"wrong config for this checkpoint?"
            )
        if data_converter.end_token is not None and not spec.hierarchical_encoder:
            raise CheckpointError(
                f"the {data_converter.js_type} reads tracks of any length, which needs a hierarchical "
                f"encoder (encoder/hierarchical_level_0/...), and the network's is flat: wrong config for this checkpoint?"
            )
        extra_controls = tuple((str(name), int(depth)) for name, depth in extra_controls)
        control = (chord_encoder.depth if chord_encoder else 0) + sum(depth for _, depth in extra_controls)
        if control != spec.control_depth:
            given = [chord_encoder.name if chord_encoder else "no chordEncoder"]
            given += [f"{name} of {depth}" for name, depth in extra_controls]
            raise CheckpointError(
                f"the checkpoint's encoder expects {spec.control_depth} control values per step, "
                f"the config gives {control} ({', '.join(given)})"
            )
        self.spec, self.data_converter, self.chord_encoder, self.config = (spec, data_converter, chord_encoder, config)
        self.extra_controls = extra_controls
        self.network = MusicVAENetwork(
            spec, GrooveDecoder if isinstance(data_converter, GrooveConverter) else Decoder, data_converter.end_token
        )
        self._graphs: dict[tuple, tf.types.experimental.ConcreteFunction] = {}
        self._graph_lock = threading.Lock()

    # -- metadata ---------------------------------------------------------
    @property
    def z_size(self) -> int:
        return self.spec.z_size

    @property
    def num_steps(self) -> int:
        return self.spec.num_steps

    def __repr__(self) -> str:
        s = self.spec
        return (
            f"MusicVAE(config={self.config!r}, {self.data_converter.js_type}, z={s.z_size}, "
            f"encoder={list(s.encoder_sizes)}, decoder={list(s.decoder_sizes)}, steps={s.num_steps})"
        )

    # -- loading and saving ----------------------------------------------
    @classmethod
    def load(cls, path: str | Path, config: str | None = None, progress: bool = True) -> MusicVAE:
        """Load a magenta-js folder, a Magenta TF checkpoint (with `config`) or an hmm_live folder;
        or a published magenta-js name ("mel_4bar_small_q2") or checkpoint URL, downloaded into
        the cache on first use (`progress`: a line on stderr meanwhile)."""
        ckpt = checkpoints.read_checkpoint(catalog.locate(path, progress), config)
        assert ckpt.spec is not None  # read_checkpoint always sets it
        with naming(ckpt.source):
            parts = ckpt.parts
            model = cls(ckpt.spec, parts.converter, parts.chords, ckpt.config_name, parts.extra_controls)
        checkpoints.assign_weights(model.network.magenta_weights(), ckpt.weights, ckpt.source)
        return model

    @classmethod
    def create(
        cls,
        config: str,
        z_size: int | None = None,
        encoder_sizes: Sequence[int] | None = None,
        decoder_sizes: Sequence[int] | None = None,
        conductor_sizes: Sequence[int] | None = None,
        hierarchical_encoder: bool | None = None,
        seed: int | None = None,
    ) -> MusicVAE:
        """A randomly initialised model of a Magenta config: its sizes unless given, its
        hierarchical encoder and conductor (with the decoder's sizes, as Magenta's) unless told."""
        from hmm_live.models.musicvae.configs import get_config

        cfg = get_config(config)
        z_size = z_size or cfg.hparams.z_size
        encoder_sizes = encoder_sizes or cfg.hparams.encoder_sizes
        decoder_sizes = decoder_sizes or cfg.hparams.decoder_sizes
        if conductor_sizes is None:
            conductor_sizes = decoder_sizes if cfg.conductor else ()
        if hierarchical_encoder is None:
            hierarchical_encoder = cfg.hierarchical_encoder
        converter = converter_from_spec(cfg.data_converter)
        chords = ChordEncoder(cfg.chord_encoder) if cfg.chord_encoder else None
        spec = NetworkSpec(
            input_depth=converter.input_depth,
            output_depth=converter.output_depth,
            z_size=z_size,
            encoder_sizes=tuple(encoder_sizes),
            decoder_sizes=tuple(decoder_sizes),
            num_steps=converter.num_steps,
            control_depth=chords.depth if chords else 0,
            num_segments=converter.num_segments or 0,
            hierarchical_encoder=hierarchical_encoder,
            conductor_sizes=tuple(conductor_sizes),
            split_depths=converter.split_depths,
            nade_hidden=cfg.hparams.nade_num_hidden if converter.multi_label else 0,
        )
        if seed is not None:
            keras.utils.set_random_seed(seed)
        return cls(spec, converter, chords, cfg.name)

    def identity(self) -> dict:
        """Config, z size and a digest of the weights: what a model trained on this
        MusicVAE's codes records, so it is never used with another MusicVAE."""
        h = hashlib.sha256()
        for name, value in sorted(self.weights().items()):
            h.update(name.encode())
            h.update(np.ascontiguousarray(value, np.float32).tobytes())
        return {"config": self.config, "z_size": self.z_size, "weights_sha256": h.hexdigest()[:16]}

    def weights(self) -> dict[str, np.ndarray]:
        """All weights as numpy arrays, by Magenta variable name."""
        return {n: v.numpy() for n, v in self.network.magenta_weights().items()}

    def js_config(self) -> dict:
        out: dict = {"type": "MusicVAE", "dataConverter": self.data_converter.spec()}
        if self.chord_encoder:
            out["chordEncoder"] = self.chord_encoder.name
        if self.extra_controls:
            out["extraControls"] = [{"name": name, "depth": depth} for name, depth in self.extra_controls]
        if self.spec.boolean_output:
            out["useBooleanDecoder"] = True
        return out

    def save(self, path: str | Path, quantization: str | None = None) -> Path:
        """Save to an hmm_live folder (safe to load, no pickle; also readable by magenta-js),
        optionally with uint8/uint16 weights. Other files in the folder stay."""
        own = {"format": checkpoints.OWN_FORMAT, "config": self.config, "network": self.spec.to_json()}
        return checkpoints.write_js(path, self.weights(), self.js_config(), quantization, own=own)

    def export(self, path: str | Path, format: str = "magenta-js", quantization: str | None = None) -> Path:
        """Export a checkpoint folder that @magenta/music loads (optionally uint8/uint16)."""
        if format != "magenta-js":
            raise ConfigError(f"unknown export format {format!r}; hmm_live exports 'magenta-js'")
        if len(self.spec.encoder_sizes) > 1 and not self.spec.hierarchical_encoder:
            raise ConfigError(
                "magenta-js cannot load flat encoders with more than one layer "
                f"(this one has {len(self.spec.encoder_sizes)})"
            )
        return checkpoints.write_js(path, self.weights(), self.js_config(), quantization)

    # -- tensors ----------------------------------------------------------
    def controls(self, chords: Sequence[str] | None, extra_controls: ExtraControls | None = None) -> np.ndarray | None:
        """Chord symbols, then each extra control by name -> [num_steps, depth] controls, the
        order magenta-js concatenates them in, checking the model wants exactly these."""
        parts = [] if (chord_part := self._chords(chords)) is None else [chord_part]
        parts += self._extra_controls(extra_controls or {})
        return np.concatenate(parts, axis=1) if parts else None

    def _chords(self, chords: Sequence[str] | None) -> np.ndarray | None:
        if self.chord_encoder is None:
            if chords:
                raise ChordError("this model is not chord-conditioned, but chords were given")
            return None
        if not chords:
            raise ChordError(f"this model is conditioned on chords ({self.chord_encoder.name}): pass chords=[...]")
        segments = self.data_converter.num_segments
        if self.data_converter.by_track and segments:
            return self.chord_encoder.encode_tracks(chords, segments, self.num_steps // segments)
        return self.chord_encoder.encode_progression(chords, self.num_steps)

    def _extra_controls(self, given: ExtraControls) -> list[np.ndarray]:
        """The extra controls in the network's order, each [num_steps, its depth] of finite numbers."""
        wanted = dict(self.extra_controls)
        names = ", ".join(f"{name!r} [{self.num_steps}, {depth}]" for name, depth in self.extra_controls)
        unexpected = sorted(set(given) - set(wanted), key=str)
        if unexpected:
            raise ConfigError(
                f"this model takes no control {str(unexpected[0])!r:.60} "
                f"({'its extra controls are ' + names if wanted else 'it has no extra controls'})"
            )
        missing = [name for name in wanted if name not in given]
        if missing:
            raise ConfigError(f"this model needs the extra control {missing[0]!r}: pass extra_controls={{{names}}}")
        out = []
        for name, depth in self.extra_controls:
            try:
                value = np.asarray(given[name], np.float32)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"extra control {name!r} is not an array of numbers: {e}") from None
            if value.shape != (self.num_steps, depth) or not np.isfinite(value).all():
                raise ConfigError(
                    f"extra control {name!r} must be finite with shape [{self.num_steps}, {depth}], "
                    f"got {list(value.shape)}"
                )
            out.append(value)
        return out

    def encode_tensors(self, inputs: np.ndarray, controls: np.ndarray | None = None):
        """Encoder inputs [n, num_steps, input_depth] -> (mu, sigma), numpy."""
        graph = self._graph("encode", controls is not None)
        mu, sigma = graph(self._inputs(inputs), *([] if controls is None else [controls]))
        return mu.numpy(), sigma.numpy()

    def decode_labels(
        self,
        z: ArrayLike,
        temperature: float | None = None,
        controls: np.ndarray | None = None,
        length: int | None = None,
        seed: int | None = None,
    ) -> np.ndarray:
        """z [n, z_size] -> class labels [n, length] (the fast path used live); a GrooVAE's
        outputs [n, length, 3 * drums]: hits, velocities, offsets."""
        z = np.asarray(z, np.float32)
        if z.ndim == 1:
            z = z[np.newaxis]
        if z.ndim != 2 or z.shape[1] != self.z_size or not np.isfinite(z).all():
            raise ConfigError(f"z must be finite with shape [n, {self.z_size}], got {list(z.shape)}")
        if temperature is not None and not temperature > 0:
            raise ConfigError(f"temperature must be > 0 (or None for greedy), got {temperature}")
        greedy = temperature is None
        args = [z, self._length(length)]
        if not greedy:
            args += [np.float32(temperature), np.random.default_rng(seed).integers(0, 2**31, 2)]
        if controls is not None:
            args.append(np.asarray(controls, np.float32))
        return self._graph("decode", controls is not None, greedy)(*args).numpy()

    def reconstruct_labels(self, inputs: np.ndarray, length: int | None = None) -> np.ndarray:
        """Encoder inputs [n, num_steps, input_depth] -> the greedy labels of their mu [n, length]:
        `decode_labels(encode_tensors(inputs)[0], length=length)`, the same numbers, as one graph
        and one call (no round trip through numpy in between; `reconstructor` runs it on TFLite)."""
        return self._graph("reconstruct", False)(self._inputs(inputs), self._length(length)).numpy()

    def reconstructor(self, length: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
        """`reconstruct_labels` of one input [num_steps, input_depth] -> its labels [length, ...], as
        a TFLite interpreter made once from the same graph (lite.py): the live drummer's per-bar
        call, about half the graph's time, and steadier. The weights are read now: after they
        change (training), make another."""
        s, n = self.spec, self._length(length)
        graph = tf.function(
            lambda x: self._reconstruct(x, n),
            input_signature=[tf.TensorSpec([1, s.num_steps, s.input_depth], tf.float32)],
            autograph=False,
        )
        lite = LiteFunction(graph.get_concrete_function(), self.network)
        return lambda inputs: lite(self._inputs(np.asarray(inputs)[np.newaxis]))[0]

    def _reconstruct(self, x, n):
        """Encoder inputs -> the greedy decode of their mu, in a graph."""
        mu, _ = self.network.encode(x)
        return self.network.decode(mu, None, n)

    def _inputs(self, inputs: np.ndarray) -> np.ndarray:
        inputs = np.asarray(inputs, np.float32)
        if inputs.ndim != 3 or inputs.shape[1:] != (self.num_steps, self.spec.input_depth):
            raise SequenceError(
                f"encoder inputs must be [n, {self.num_steps}, {self.spec.input_depth}], got {list(inputs.shape)}"
            )
        return inputs

    def _length(self, length: int | None) -> np.int32:
        length = self.num_steps if length is None else int(length)
        if not 0 < length <= self.num_steps:
            raise ConfigError(f"length must be 1..{self.num_steps}, got {length}")
        return np.int32(length)

    def _graph(self, kind: str, controls: bool, greedy: bool = True):
        """One traced tf.function per call shape: no per-step Python at run time."""
        key = (kind, controls, greedy)
        with self._graph_lock:
            if key not in self._graphs:
                self._graphs[key] = self._trace(kind, controls, greedy)
            return self._graphs[key]

    def _trace(self, kind: str, controls: bool, greedy: bool):
        s, net = self.spec, self.network
        c_sig = [tf.TensorSpec([s.num_steps, s.control_depth], tf.float32)] if controls else []
        x_sig = tf.TensorSpec([None, s.num_steps, s.input_depth], tf.float32)
        if kind == "encode":
            return tf.function(lambda x, *c: net.encode(x, *c), input_signature=[x_sig] + c_sig, autograph=False)
        if kind == "reconstruct":
            return tf.function(self._reconstruct, input_signature=[x_sig, tf.TensorSpec([], tf.int32)], autograph=False)
        sig = [tf.TensorSpec([None, s.z_size], tf.float32), tf.TensorSpec([], tf.int32)]
        if greedy:
            return tf.function(
                lambda z, n, *c: net.decode(z, c[0] if c else None, n), input_signature=sig + c_sig, autograph=False
            )
        sig += [tf.TensorSpec([], tf.float32), tf.TensorSpec([2], tf.int64)]
        return tf.function(
            lambda z, n, t, seed, *c: net.decode(z, c[0] if c else None, n, t, seed),
            input_signature=sig + c_sig,
            autograph=False,
        )

    # -- Magenta's API -----------------------------------------------------
    def encode(
        self,
        sequences: Sequence[NoteSequence],
        chords: Sequence[str] | None = None,
        seed: int | None = None,
        extra_controls: ExtraControls | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """NoteSequences (quantised or not) -> (z, mu, sigma), each [n, z_size] float32.
        `extra_controls`: a multicontrol model's signals by name (see `controls`)."""
        if isinstance(sequences, NoteSequence):
            sequences = [sequences]
        sequences = list(sequences)
        for s in sequences:
            if not isinstance(s, NoteSequence):
                raise SequenceError(
                    f"encode takes NoteSequences, got {type(s).__name__} {s!r:.60} "
                    f"(read MIDI files with hmm_live.music.read_midi)"
                )
        if not sequences:
            raise SequenceError("encode needs at least one NoteSequence")
        inputs = np.stack([self.data_converter.to_inputs(s) for s in sequences])
        mu, sigma = self.encode_tensors(inputs, self.controls(chords, extra_controls))
        eps = np.random.default_rng(seed).standard_normal(mu.shape).astype(np.float32)
        return mu + sigma * eps, mu, sigma

    def decode(
        self,
        z: ArrayLike,
        temperature: float | None = None,
        chords: Sequence[str] | None = None,
        length: int | None = None,
        seed: int | None = None,
        extra_controls: ExtraControls | None = None,
    ) -> list[NoteSequence]:
        """z [n, z_size] -> quantised NoteSequences (GrooVAE: performances with velocities and timing,
        at 120 qpm); temperature None decodes greedily."""
        labels = self.decode_labels(z, temperature, self.controls(chords, extra_controls), length, seed)
        return [self.data_converter.from_labels(row) for row in labels]

    def sample(
        self,
        n: int,
        temperature: float = 0.5,
        chords: Sequence[str] | None = None,
        seed: int | None = None,
        extra_controls: ExtraControls | None = None,
    ) -> list[NoteSequence]:
        """n new sequences from z ~ N(0, I)."""
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, self.z_size)).astype(np.float32)
        seed = None if seed is None else int(rng.integers(2**31))
        return self.decode(z, temperature, chords, seed=seed, extra_controls=extra_controls)

    def interpolate(
        self,
        a: NoteSequence | ArrayLike,
        b: NoteSequence | ArrayLike,
        num_steps: int,
        temperature: float | None = None,
        chords: Sequence[str] | None = None,
        seed: int | None = None,
        extra_controls: ExtraControls | None = None,
    ) -> list[NoteSequence]:
        """Spherical interpolation from a to b (sequences or z vectors), endpoints included."""
        za, zb = (
            self.encode([x], chords, extra_controls=extra_controls)[1][0]
            if isinstance(x, NoteSequence)
            else np.asarray(x, np.float32).reshape(-1)
            for x in (a, b)
        )
        if za.shape != (self.z_size,) or zb.shape != (self.z_size,):
            raise ConfigError(f"interpolate needs z vectors of {self.z_size} values, got {za.size} and {zb.size}")
        if num_steps < 2:
            raise ConfigError(f"interpolate needs num_steps >= 2, got {num_steps}")
        z = np.stack([slerp(za, zb, t) for t in np.linspace(0.0, 1.0, num_steps)])
        return self.decode(z, temperature, chords, seed=seed, extra_controls=extra_controls)

    def similar(
        self,
        sequence: NoteSequence,
        n: int,
        similarity: float,
        temperature: float = 0.5,
        chords: Sequence[str] | None = None,
        seed: int | None = None,
        extra_controls: ExtraControls | None = None,
    ) -> list[NoteSequence]:
        """n variations: z = similarity * mu + (1 - similarity) * noise, as magenta-js does."""
        if not 0.0 <= similarity <= 1.0:
            raise ConfigError(f"similarity must be within 0..1, got {similarity}")
        _, mu, _ = self.encode([sequence], chords, extra_controls=extra_controls)
        rng = np.random.default_rng(seed)
        z = similarity * mu + (1.0 - similarity) * rng.standard_normal((n, self.z_size)).astype(np.float32)
        seed = None if seed is None else int(rng.integers(2**31))
        return self.decode(z, temperature, chords, seed=seed, extra_controls=extra_controls)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical linear interpolation (linear where a and b are parallel or one is 0).

    Computed in float64, so t = 0 and t = 1 give a and b exactly in float32.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    omega = np.arccos(np.clip(np.dot(a, b) / norms, -1.0, 1.0)) if norms > 0 else 0.0
    if np.sin(omega) < 1e-6:
        return ((1.0 - t) * a + t * b).astype(np.float32)
    return ((np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)).astype(np.float32)

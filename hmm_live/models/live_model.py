"""What the Subspacer and the Responder share: small Keras networks that are
retrained between pieces, even in a background thread while the live engine
keeps reading them.

`LiveModel.fit` is the one way they train: it holds the training lock, runs
the loop and publishes. A subclass gives only its part: `_training` (the data
from the clips, and how long), `_losses` (what a step minimises) and
`_publication` (the arrays and info published with the weights).

Training updates the networks' variables; readers never touch those. They run
the networks statelessly on the last *published* weights, an immutable tuple
swapped in by one assignment when a fit ends, so a reader sees the old model
or the new one, never a mix. Saved as `model.json` + `weights.npz` (no pickle),
written atomically.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeAlias, TypeVar

import keras
import numpy as np
import tensorflow as tf

from hmm_live import limits
from hmm_live.errors import CheckpointError, ConfigError, HmmLiveError, TrainingBusyError
from hmm_live.files import atomic_folder

FORMAT = 1
BATCHES_PER_EPOCH = 8  # with batch_size=None: small libraries get enough steps, large ones stay fast
Callback: TypeAlias = keras.callbacks.Callback | Callable[[int, dict], Any]
Step = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], dict[str, tf.Tensor]]  # (x, y, seed) -> losses
History = dict[str, list[float]]  # Keras-style: each logged value, per epoch


@dataclass(kw_only=True)
class Training:
    """One fit's data and schedule, as a subclass's `_training` plans it; a subclass may
    extend it with what its `_publication` needs."""

    x: np.ndarray
    y: np.ndarray
    epochs: int  # at most; callbacks may stop sooner
    validation: tuple[np.ndarray, np.ndarray] | None = None  # held out, logged as val_*
    start: Sequence[tf.Tensor] | None = None  # weights to start from instead of fresh seeded ones
    then: tuple[int, Step] | None = None  # (epoch, step): from that epoch on, train with that step
    callbacks: Sequence[keras.callbacks.Callback] = ()  # the model's own, run after the caller's


TrainingT = TypeVar("TrainingT", bound=Training)  # what a subclass's `_training` plans


class TrainingThread(threading.Thread):
    """A `fit_in_background` thread: once it ends, `result` is the fit's history, or `error` what it raised."""

    def __init__(self, target: Callable[[], None], name: str):
        super().__init__(target=target, name=name, daemon=True)
        self.result: History | None = None
        self.error: BaseException | None = None


class Published:
    """Weights (and the arrays that go with them) as one immutable snapshot."""

    def __init__(self, weights: Sequence[np.ndarray], arrays: dict[str, np.ndarray], info: dict):
        self.weights = tuple(tf.constant(w) for w in weights)
        self.arrays = {k: np.array(v, copy=True) for k, v in arrays.items()}
        for a in self.arrays.values():
            a.flags.writeable = False
        self.info = dict(info)
        h = hashlib.sha256()
        for w in weights:
            h.update(np.ascontiguousarray(w).tobytes())
        self.fingerprint = h.hexdigest()[:16]


class StatelessNet:
    """A sub-network run on given weights, traced once; thread-safe."""

    def __init__(self, model: keras.Model, all_variables: Sequence[keras.Variable]):
        positions = {id(v): i for i, v in enumerate(all_variables)}
        self._index = [positions[id(v)] for v in model.trainable_variables]
        sig = [
            [tf.TensorSpec(v.shape, v.dtype) for v in model.trainable_variables],
            tf.TensorSpec((None, *model.input_shape[1:]), tf.float32),
        ]
        fixed = list(model.non_trainable_variables)  # never trained, so never changing
        # a concrete function: called with flat tensors it skips tf.function's dispatch (~0.5 ms)
        self._run = tf.function(
            lambda w, x: model.stateless_call(w, fixed, x)[0], input_signature=sig, autograph=False
        ).get_concrete_function()

    def __call__(self, published: Published, x: np.ndarray):
        out = self._run([published.weights[i] for i in self._index], tf.constant(x, tf.float32))
        return [o.numpy() for o in out] if isinstance(out, (list, tuple)) else out.numpy()


def _glorot(variables: Sequence[keras.Variable], seed: int) -> list[np.ndarray]:
    """Seeded Glorot-uniform kernels and zero biases (Keras' defaults, made reproducible)."""
    rng = np.random.default_rng(seed)
    out = []
    for v in variables:
        shape = tuple(v.shape)
        if len(shape) < 2:
            out.append(np.zeros(shape, np.float32))
            continue
        receptive = int(np.prod(shape[:-2]))
        limit = np.sqrt(6.0 / (receptive * (shape[-2] + shape[-1])))
        out.append(rng.uniform(-limit, limit, shape).astype(np.float32))
    return out


class LiveModel(Generic[TrainingT]):
    """Base class: `fit` (locking, the training loop with Keras callbacks, publishing), save and load.

    Subclasses build their networks, pass the keras.Model holding every
    variable to `_init_training`, and define `_io_shapes`, `_losses`,
    `_training` and `_publication` (LiveModel[T]: T, the Training their `_training` plans).
    """

    kind = "live model"

    def __init__(self, learning_rate: float, batch_size: int | None, seed: int):
        if not limits.real(learning_rate) or not learning_rate > 0:
            raise ConfigError(f"learning_rate must be a number > 0, got {learning_rate!r}")
        if batch_size is not None and not (limits.whole(batch_size) and batch_size >= 1):
            raise ConfigError(
                f"batch_size must be a whole number >= 1 (or None: {BATCHES_PER_EPOCH} batches "
                f"an epoch), got {batch_size!r}"
            )
        if not limits.whole(seed) or not 0 <= seed < 2**63:
            raise ConfigError(f"seed must be a whole number from 0 to 2**63 - 1, got {seed!r}")
        self.batch_size = None if batch_size is None else int(batch_size)
        self.learning_rate, self.seed = float(learning_rate), int(seed)
        self._fit_lock = threading.Lock()
        self._handed_to: threading.Thread | None = None  # the thread fit_in_background claimed the lock for
        self._published: Published | None = None

    def _init_training(self, trainable: keras.Model) -> None:
        """Call once the networks exist: set up the initial weights, the optimizer and the traced step."""
        self._trainable = trainable
        self._variables = list(trainable.trainable_variables)
        self._initial_state = list(zip(self._variables, _glorot(self._variables, self.seed)))
        self._step = self._traced_step(
            lambda x, y, seed: self._losses(x, y, seed, training=True), self._variables, self.learning_rate
        )
        self._eval = tf.function(
            lambda x, y, seed: self._losses(x, y, seed, training=False),
            autograph=False,
            input_signature=self._signature(),
        )

    def _signature(self) -> list[tf.TensorSpec]:
        return [*(tf.TensorSpec((None, *s), tf.float32) for s in self._io_shapes()), tf.TensorSpec([2], tf.int32)]

    def _traced_step(self, losses: Step, variables: Sequence[keras.Variable], learning_rate: float) -> Step:
        """A traced step minimising losses(x, y, seed)["loss"] over `variables` with its own Adam,
        which every fit resets along with the weights."""
        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build(variables)
        self._initial_state += [(v, v.numpy()) for v in optimizer.variables]

        def step(x, y, seed):
            with tf.GradientTape() as tape:
                out = losses(x, y, seed)
            optimizer.apply(tape.gradient(out["loss"], variables), variables)
            return out

        return tf.function(step, autograph=False, input_signature=self._signature())

    # -- subclass interface ------------------------------------------------
    def _io_shapes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The shapes of one example's x and y."""
        raise NotImplementedError

    def _losses(self, x: tf.Tensor, y: tf.Tensor, seed: tf.Tensor, training: bool) -> dict[str, tf.Tensor]:
        """Scalar losses of a batch; "loss" is the one minimised (traced once, run every step)."""
        raise NotImplementedError

    def _training(self, clips: Any, epochs: int | None) -> TrainingT:
        """What `fit(clips, epochs)` trains on, checked: the data and the schedule.
        epochs is None or a whole number >= 1; None means the model's own default."""
        raise NotImplementedError

    def _publication(self, training: TrainingT, history: History) -> tuple[dict[str, np.ndarray], dict]:
        """Once trained: the arrays published with the weights and the fit's `info`. May adjust
        the variables first (they are read after it)."""
        raise NotImplementedError

    # -- state ---------------------------------------------------------------
    @property
    def trained(self) -> bool:
        return self._published is not None

    @property
    def training(self) -> bool:
        """True while a fit runs (in this thread or another)."""
        return self._fit_lock.locked()

    @property
    def info(self) -> dict:
        """What the fit of the published weights reported (epochs, loss, ...)."""
        return dict(self._require().info)

    def fingerprint(self) -> str:
        """A digest of the published weights: what models trained on this one record."""
        return self._require().fingerprint

    def _require(self) -> Published:
        published = self._published
        if published is None:
            raise HmmLiveError(f"the {self.kind} is not trained yet: call fit() (or load a saved one)")
        return published

    # -- training ------------------------------------------------------------
    def fit(
        self, clips: Any, epochs: int | None = None, callbacks: Sequence[Callback] | None = None, verbose: int = 0
    ) -> History:
        """Train on clips, from fresh weights unless the subclass starts from others, and
        publish the result; returns the Keras-style history.

        Holds the training lock: a second fit meanwhile raises TrainingBusyError.
        `epochs` = None is the model's own default. Callbacks are Keras callbacks
        or `f(epoch, logs)`, called every epoch. The new weights are swapped in
        (one assignment) when training ends, so readers use the old model until
        then, never a mix. A subclass with options of its own passes them on through `_fit`.
        """
        return self._fit(epochs, callbacks, verbose, lambda: self._training(clips, epochs))

    def _fit(
        self, epochs: int | None, callbacks: Sequence[Callback] | None, verbose: int, plan: Callable[[], TrainingT]
    ) -> History:
        """`fit`, with the training planned by `plan` (a subclass's `_training`, with its options) under the lock."""
        with self._holding_lock():
            if epochs is not None and not (isinstance(epochs, (int, np.integer)) and epochs >= 1):
                raise ConfigError(f"epochs must be a whole number >= 1, got {epochs!r}")
            training = plan()
            history = self._train(training, callbacks, verbose)
            self._publish(*self._publication(training, history))
            return history

    def fit_in_background(self, *args: Any, **kwargs: Any) -> TrainingThread:
        """Run `fit(*args, **kwargs)` in a named daemon thread; readers keep the old weights until it ends.

        The lock is taken now: any fit started after this call raises
        TrainingBusyError until the thread ends. The thread's `.result` is the
        history, or `.error` the exception it raised.
        """
        self._claim()

        def run() -> None:
            try:
                thread.result = self.fit(*args, **kwargs)
            except BaseException as e:  # reported on the thread, never lost in a traceback
                thread.error = e
            finally:
                if self._handed_to is thread:  # fit never took the lock over (its arguments were refused)
                    self._handed_to = None
                    self._fit_lock.release()

        thread = TrainingThread(run, f"hmm_live {self.kind} training")
        self._handed_to = thread
        thread.start()
        return thread

    @contextmanager
    def _holding_lock(self) -> Iterator[None]:
        """Hold the training lock for one fit, or take over the one fit_in_background claimed for this thread."""
        if self._handed_to is threading.current_thread():
            self._handed_to = None
        else:
            self._claim()
        try:
            yield
        finally:
            self._fit_lock.release()

    def _claim(self) -> None:
        if not self._fit_lock.acquire(blocking=False):
            raise TrainingBusyError(f"the {self.kind} is already training: wait for it to finish")

    def _train(self, training: TrainingT, callbacks: Sequence[Callback] | None, verbose: int) -> History:
        """Run the training loop from fresh (seeded) weights, or from `training.start`'s, with a fresh optimizer."""
        x, y, epochs, then = training.x, training.y, int(training.epochs), training.then
        for v, init in self._initial_state:
            v.assign(init)
        for v, w in zip(self._variables, training.start or ()):
            v.assign(w)
        cbs = keras.callbacks.CallbackList(
            [
                *(
                    c if isinstance(c, keras.callbacks.Callback) else keras.callbacks.LambdaCallback(on_epoch_end=c)
                    for c in callbacks or ()
                ),
                *training.callbacks,
            ],
            add_history=True,
            add_progbar=verbose > 0,
            model=self._trainable,
            verbose=verbose,
            epochs=epochs,
            steps=self._batches(len(x)),
        )
        self._trainable.stop_training = False
        rng = np.random.default_rng(self.seed)
        step = 0
        cbs.on_train_begin()
        for epoch in range(epochs):
            cbs.on_epoch_begin(epoch)
            totals: dict[str, tf.Tensor] = {}
            train = then[1] if then and epoch >= then[0] else self._step
            for batch in np.array_split(rng.permutation(len(x)), self._batches(len(x))):
                losses = train(x[batch], y[batch], tf.constant([self.seed, step], tf.int32))
                totals = {k: totals.get(k, 0.0) + v * len(batch) for k, v in losses.items()}
                step += 1
            logs = {k: float(v) / len(x) for k, v in totals.items()}
            if training.validation is not None and len(training.validation[0]):
                val = self._eval(*training.validation, tf.constant([self.seed, -1], tf.int32))
                logs.update({f"val_{k}": float(v) for k, v in val.items()})
            bad = [k for k, v in logs.items() if not np.isfinite(v)]
            if bad:
                raise HmmLiveError(
                    f"the {self.kind}'s training diverged at epoch {epoch + 1} "
                    f"({bad[0]} = {logs[bad[0]]}): lower learning_rate or check the data"
                )
            cbs.on_epoch_end(epoch, logs)
            if self._trainable.stop_training:
                break
        cbs.on_train_end(logs)
        return dict(self._trainable.history.history)

    def _batches(self, n: int) -> int:
        return -(-n // self.batch_size) if self.batch_size else min(n, BATCHES_PER_EPOCH)

    def _publish(self, arrays: dict[str, np.ndarray], info: dict) -> None:
        """Swap in the trained weights with their arrays (one atomic assignment)."""
        self._published = Published([v.numpy() for v in self._variables], arrays, info)

    # -- saving ----------------------------------------------------------------
    def _config(self) -> dict:
        """The constructor arguments that rebuild this model (JSON)."""
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Write `path/model.json` and `path/weights.npz` atomically (a folder)."""
        published = self._require()
        with atomic_folder(path) as tmp:
            meta = {
                "format": FORMAT,
                "kind": self.kind,
                "config": self._config(),
                "fingerprint": published.fingerprint,
                "info": published.info,
            }
            (tmp / "model.json").write_text(json.dumps(meta, indent=1))
            np.savez(
                tmp / "weights.npz",
                allow_pickle=False,  # as loaded: numbers only
                **{f"weight_{i}": w.numpy() for i, w in enumerate(published.weights)},
                **published.arrays,
            )
        return Path(path)

    @classmethod
    def _read(cls, path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
        """model.json and the arrays of a saved model, checked for kind and format."""
        path = Path(path)
        for name in ("model.json", "weights.npz"):
            if not (path / name).exists():
                raise CheckpointError(f"{path} is not a saved {cls.kind}: {name} is missing")
        what = f"saved {cls.kind} file"
        try:
            meta = json.loads(limits.read_file(path / "model.json", limits.MAX_JSON_BYTES, what))
            arrays = _read_npz(limits.read_file(path / "weights.npz", limits.MAX_WEIGHT_BYTES, what))
        except (ValueError, RecursionError, EOFError, zipfile.BadZipFile) as e:  # bad JSON, truncated npz
            raise CheckpointError(f"{path} holds a damaged {cls.kind} ({e})") from None
        if not isinstance(meta, dict) or meta.get("kind") != cls.kind:
            raise CheckpointError(
                f"{path / 'model.json'} is not a saved {cls.kind} "
                f"(kind {meta.get('kind') if isinstance(meta, dict) else None!r})"
            )
        if meta.get("format") != FORMAT:
            raise CheckpointError(
                f"{path / 'model.json'} has format {meta.get('format')!r}; this hmm_live reads format {FORMAT}"
            )
        for key in ("config", "info"):
            if not isinstance(meta.get(key), dict):
                raise CheckpointError(
                    f"{path / 'model.json'}: {key!r} must be an object, got {type(meta.get(key)).__name__}"
                )
        return meta, arrays

    def _restore(self, path: Path, meta: dict, arrays: dict[str, np.ndarray], array_names: Sequence[str]) -> None:
        """Publish saved weights after checking every shape against the built networks."""
        weights = []
        for i, v in enumerate(self._variables):
            w = arrays.get(f"weight_{i}")
            if w is None or tuple(w.shape) != tuple(v.shape) or not np.isfinite(w).all():
                raise CheckpointError(
                    f"{path / 'weights.npz'}: weight {i} is missing, non-finite or not "
                    f"of shape {tuple(v.shape)}: the file does not match its model.json"
                )
            weights.append(w)
        missing = [n for n in array_names if n not in arrays]
        if missing:
            raise CheckpointError(f"{path / 'weights.npz'} lacks {', '.join(missing)}")
        published = Published(weights, {n: arrays[n] for n in array_names}, meta.get("info") or {})
        if published.fingerprint != meta.get("fingerprint"):
            raise CheckpointError(
                f"{path / 'weights.npz'} does not match the fingerprint in its model.json: "
                f"the files are from different saves"
            )
        self._published = published


def _read_npz(data: bytes) -> dict[str, np.ndarray]:
    """An .npz's arrays, each header checked against its stored size before numpy allocates
    the array it declares (a 100-byte member may declare terabytes)."""
    headers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        if len(members) > limits.MAX_VARIABLES or sum(m.file_size for m in members) > limits.MAX_WEIGHT_BYTES:
            raise ValueError(f"weights.npz holds over {limits.MAX_VARIABLES} arrays or {limits.MAX_WEIGHT_BYTES} bytes")
        for member in members:
            with archive.open(member) as f:
                version = np.lib.format.read_magic(f)
                if version not in headers:
                    raise ValueError(f"weights.npz member {member.filename} has .npy format {version}")
                shape, _, dtype = headers[version](f)
            if dtype.hasobject or math.prod(shape) * dtype.itemsize > member.file_size:
                raise ValueError(
                    f"weights.npz member {member.filename} declares a {dtype} array of "
                    f"shape {shape}: not plain numbers, or more than its {member.file_size} bytes"
                )
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}

"""Reading and writing MusicVAE weights: magenta-js folders, TF1 checkpoints, our own.

- magenta-js: config.json + weights_manifest.json + binary shards (weights
  concatenated in manifest order, little-endian float32, or uint8/uint16
  with value = q * scale + min).
- Magenta TF1: model.ckpt-N.{index,data-*} (a prefix, a folder or a .tar);
  the config name must be given.
- hmm_live's own: a magenta-js folder plus hmm_live.json (config name and
  network sizes). Nothing here unpickles.
"""

from __future__ import annotations

import json
import math
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hmm_live import limits
from hmm_live.errors import CheckpointError, ConfigError, UnsupportedModelError
from hmm_live.files import atomic_folder
from hmm_live.limits import naming, of_type
from hmm_live.models.musicvae.configs import get_config
from hmm_live.models.musicvae.network import NetworkSpec
from hmm_live.music.chords import ChordEncoder
from hmm_live.music.converters import DataConverter, converter_from_spec

OWN_FILE = "hmm_live.json"
OWN_FORMAT = 1
SHARD_BYTES = 4 * 1024 * 1024
_QUANT_DTYPES: dict[str, type[np.unsignedinteger]] = {"uint8": np.uint8, "uint16": np.uint16}


@dataclass
class Checkpoint:
    """Weights by Magenta variable name, with the network sizes, data converter and
    chord encoder they go with."""

    weights: dict[str, np.ndarray]
    parts: JsParts
    config_name: str | None
    source: str
    spec: NetworkSpec | None = None  # hmm_live.json's until read_checkpoint checks it


@dataclass(frozen=True)
class JsParts:
    """What a magenta-js config.json says besides the weights: how to read and write music,
    and what conditions the model."""

    converter: DataConverter
    chords: ChordEncoder | None = None
    extra_controls: tuple[tuple[str, int], ...] = ()  # (name, depth) of each extra control, in order
    boolean_decoder: bool = False  # useBooleanDecoder: one Bernoulli label per class


def read_checkpoint(path: str | Path, config: str | None = None) -> Checkpoint:
    """Read any supported checkpoint; `config` names the Magenta config of TF1 ones.

    Every file is checked against the bounds in hmm_live.limits before it is
    read, and the weights must be finite and match the network they describe.
    """
    ckpt = _read_any(Path(path), config)
    with naming(ckpt.source):
        for name, value in ckpt.weights.items():
            if not np.isfinite(value).all():
                raise CheckpointError(f"variable {name} holds NaN or infinite values")
        converter = ckpt.parts.converter
        spec = infer_spec(
            ckpt.weights, converter.num_steps, converter.num_segments, converter.input_depth, ckpt.parts.boolean_decoder
        )
    if ckpt.spec is not None and ckpt.spec != spec:
        wrong = [
            f"{k} {v} (config.json and the weights give {getattr(spec, k)})"
            for k, v in ckpt.spec.to_json().items()
            if getattr(spec, k) != v
        ]
        raise CheckpointError(
            f"{Path(ckpt.source) / OWN_FILE} field 'network' does not match the weights: {'; '.join(wrong)}"
        )
    ckpt.spec = spec
    return ckpt


def _read_any(path: Path, config: str | None) -> Checkpoint:
    if path.is_dir():
        if (path / OWN_FILE).exists():
            return _read_own(path)
        if (path / "weights_manifest.json").exists():
            return _read_js(path, config)
        if any(path.glob("*.index")):
            return _read_tf(_tf_prefix(path), config)
        raise CheckpointError(
            f"{path} holds no MusicVAE checkpoint (no {OWN_FILE}, weights_manifest.json or TF *.index file)"
        )
    if path.is_file() and tarfile.is_tarfile(path):
        return _read_tar(path, config)
    if Path(f"{path}.index").exists():
        return _read_tf(path, config)
    if path.exists():
        raise CheckpointError(
            f"{path} is not a checkpoint: give a folder, a .tar or a TF checkpoint prefix (model.ckpt-N)"
        )
    raise CheckpointError(f"checkpoint {path} does not exist")


def write_js(
    folder: str | Path,
    weights: dict[str, np.ndarray],
    js_config: dict[str, Any],
    quantization: str | None = None,
    own: dict[str, Any] | None = None,
) -> Path:
    """Write a magenta-js checkpoint folder atomically (optionally uint8/uint16 quantised).

    Files of an existing folder that are not checkpoint files (a model card,
    training state) stay.
    """
    if quantization not in (None, *_QUANT_DTYPES):
        raise ConfigError(f"quantization must be None, 'uint8' or 'uint16', not {quantization!r}")
    folder = Path(folder)
    entries, blob = [], bytearray()
    for name, value in weights.items():
        value = np.ascontiguousarray(value, np.float32)
        entry: dict[str, Any] = {"name": name, "shape": list(value.shape), "dtype": "float32"}
        if quantization:
            data, entry["quantization"] = _quantize(value, quantization)
        else:
            data = value.astype("<f4").tobytes()
        entries.append(entry)
        blob += data
    shards = [bytes(blob[i : i + SHARD_BYTES]) for i in range(0, max(len(blob), 1), SHARD_BYTES)]
    names = [f"group1-shard{i + 1}of{len(shards)}" for i in range(len(shards))]
    with atomic_folder(folder, keep=_not_checkpoint_file) as tmp:
        for name, shard in zip(names, shards):
            (tmp / name).write_bytes(shard)
        _write_json(tmp / "weights_manifest.json", [{"paths": names, "weights": entries}])
        _write_json(tmp / "config.json", js_config)
        if own is not None:
            _write_json(tmp / OWN_FILE, own)
    return folder


def _not_checkpoint_file(name: str) -> bool:
    return name not in ("weights_manifest.json", "config.json", OWN_FILE) and not re.fullmatch(
        r"group\d+-shard\d+of\d+", name
    )


def _quantize(value: np.ndarray, dtype: str) -> tuple[bytes, dict[str, Any]]:
    lo, hi = (float(value.min()), float(value.max())) if value.size else (0.0, 0.0)
    levels = np.iinfo(_QUANT_DTYPES[dtype]).max
    scale = (hi - lo) / levels if hi > lo else 1.0
    q = np.round((value.astype(np.float64) - lo) / scale).astype(_QUANT_DTYPES[dtype])
    return q.astype(q.dtype.newbyteorder("<")).tobytes(), {"dtype": dtype, "scale": scale, "min": lo}


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1))


def _read_json(folder: Path, name: str) -> Any:
    """A JSON file of the checkpoint folder (not a link out of it), within MAX_JSON_BYTES."""
    path = folder / name
    resolved = limits.inside(folder, name, "checkpoint file")
    data = limits.read_file(resolved, limits.MAX_JSON_BYTES, "checkpoint file")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:  # RecursionError: nesting deeper than Python's stack
        raise CheckpointError(f"{path} is not valid JSON: {e}") from None


def _parts(js_config: dict[str, Any]) -> JsParts:
    """The data converter, chord encoder, extra controls and decoder kind a magenta-js config names."""
    converter = converter_from_spec(js_config["dataConverter"])
    name = js_config.get("chordEncoder")
    chords = None if name is None else ChordEncoder(of_type(name, str, "field 'chordEncoder'"))
    boolean = of_type(js_config.get("useBooleanDecoder", False), bool, "field 'useBooleanDecoder'")
    extra: list[tuple[str, int]] = []
    for i, item in enumerate(of_type(js_config.get("extraControls") or [], list, "field 'extraControls'")):
        where = f"field 'extraControls' item {i}"
        item = of_type(item, dict, where)
        control = of_type(item.get("name"), str, f"{where} field 'name'")
        if control in dict(extra):
            raise ConfigError(f"{where}: the control {control!r:.60} appears twice")
        extra.append((control, limits.int_field(item.get("depth"), f"{where} field 'depth'", 1, limits.MAX_DEPTH)))
    return JsParts(converter, chords, tuple(extra), boolean)


def _read_own(folder: Path) -> Checkpoint:
    own_path = folder / OWN_FILE
    own = of_type(_read_json(folder, OWN_FILE), dict, str(own_path), CheckpointError)
    if own.get("format") != OWN_FORMAT:
        raise CheckpointError(
            f"{own_path} field 'format' is {own.get('format')!r:.40}, not hmm_live's format {OWN_FORMAT}"
        )
    config = own.get("config")
    with naming(f"{own_path} field 'config'"):
        if config is not None:
            config = get_config(of_type(config, str, "the config name")).name
    with naming(f"{own_path} field 'network'"):
        spec = NetworkSpec.from_json(own.get("network"))
    ckpt = _read_js(folder, config)
    ckpt.spec = spec
    return ckpt


# config.json fields of magenta-js MusicVAEs that hmm_live does not implement, and what they ask for
_UNSUPPORTED_FIELDS = {"conditionOnKey": "key conditioning"}


def read_js_config(folder: Path) -> JsParts:
    """config.json's data converter and chord encoder. A model hmm_live cannot run is
    refused here, before any weight is read (or, downloading, fetched)."""
    config_path = folder / "config.json"
    js_config = _read_json(folder, "config.json")
    if not isinstance(js_config, dict) or js_config.get("type") != "MusicVAE":
        kind = js_config.get("type") if isinstance(js_config, dict) else js_config
        raise UnsupportedModelError(f"{config_path} describes a {kind!r:.60} model, not a MusicVAE")
    if "dataConverter" not in js_config:
        raise CheckpointError(f"{config_path} has no dataConverter")
    for field_name, what in _UNSUPPORTED_FIELDS.items():
        if js_config.get(field_name):
            raise UnsupportedModelError(
                f"{config_path} field {field_name!r} asks for {what}, which hmm_live does not support"
            )
    with naming(config_path):
        return _parts(js_config)


def shard_groups(folder: Path) -> list[tuple[list[str], int]]:
    """weights_manifest.json's shard groups: the shard names (relative to the folder) and the
    bytes they hold together, every field and bound checked as the loader checks them."""
    root = folder.resolve()
    return [
        ([str(p.relative_to(root)) for p in paths], sum(e.nbytes for e in entries))
        for paths, entries in _manifest(folder, folder / "weights_manifest.json")
    ]


def _read_js(folder: Path, config: str | None) -> Checkpoint:
    parts = read_js_config(folder)
    manifest_path = folder / "weights_manifest.json"
    weights: dict[str, np.ndarray] = {}
    for paths, entries in _manifest(folder, manifest_path):
        blob = _read_group(paths, entries, manifest_path)
        offset = 0
        for entry in entries:
            weights[entry.name] = entry.decode(blob, offset)
            offset += entry.nbytes
    return Checkpoint(weights, parts, config, str(folder))


@dataclass(frozen=True)
class _Entry:
    """One manifest variable, its type and size checked."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    quant: tuple[float, float] | None  # (scale, min) of uint8/uint16 weights

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def decode(self, blob: bytes, offset: int) -> np.ndarray:
        value = np.frombuffer(blob, self.dtype, count=math.prod(self.shape), offset=offset).reshape(self.shape)
        if self.quant:
            value = value.astype(np.float64) * self.quant[0] + self.quant[1]
        return value.astype(np.float32)


def _manifest(folder: Path, path: Path) -> list[tuple[list[Path], list[_Entry]]]:
    """The manifest's groups of (shard paths, variables), refused on any wrong type, an
    unsafe path or a size past hmm_live.limits, before any shard is opened."""
    groups = of_type(_read_json(folder, path.name), list, str(path), CheckpointError)
    out, total, shards = [], 0, 0
    names: set[str] = set()
    for g, group in enumerate(groups):
        where = f"{path} group {g}"
        group = of_type(group, dict, where, CheckpointError)
        paths = of_type(group.get("paths"), list, f"{where} field 'paths'", CheckpointError)
        items = of_type(group.get("weights"), list, f"{where} field 'weights'", CheckpointError)
        shards += len(paths)
        if shards > limits.MAX_SHARDS or len(names) + len(items) > limits.MAX_VARIABLES:
            raise CheckpointError(f"{where}: more than {limits.MAX_SHARDS} shards or {limits.MAX_VARIABLES} variables")
        entries = [_entry(item, f"{where} weight {i}") for i, item in enumerate(items)]
        for entry in entries:
            if entry.name in names:
                raise CheckpointError(f"{where}: variable {entry.name} appears twice")
            names.add(entry.name)
            total += entry.nbytes
        if total > limits.MAX_WEIGHT_BYTES:
            raise CheckpointError(
                f"{where}: the variables need {total} bytes, over the limit of {limits.MAX_WEIGHT_BYTES}"
            )
        out.append(([limits.inside(folder, p, f"{where} path") for p in paths], entries))
    return out


def _entry(item: object, where: str) -> _Entry:
    item = of_type(item, dict, where, CheckpointError)
    name = of_type(item.get("name"), str, f"{where} field 'name'", CheckpointError)
    where = f"{where} ({name:.100})"
    shape = limits.int_list(
        item.get("shape"),
        f"{where} field 'shape'",
        1,
        limits.MAX_DIM,
        limits.MAX_RANK,
        min_len=0,
        error=CheckpointError,
    )
    quant = item.get("quantization")
    if quant is None:
        if item.get("dtype", "float32") != "float32":
            raise CheckpointError(f"{where} field 'dtype': unsupported dtype {item.get('dtype')!r:.40}")
        return _Entry(name, shape, np.dtype("<f4"), None)
    quant = of_type(quant, dict, f"{where} field 'quantization'", CheckpointError)
    if quant.get("dtype") not in _QUANT_DTYPES:
        raise CheckpointError(f"{where} field 'quantization': unsupported dtype {quant.get('dtype')!r:.40}")
    scale, lo = (limits.finite_number(quant.get(k), f"{where} quantization field {k!r}") for k in ("scale", "min"))
    return _Entry(name, shape, np.dtype(_QUANT_DTYPES[quant["dtype"]]).newbyteorder("<"), (scale, lo))


def _read_group(paths: list[Path], entries: list[_Entry], manifest_path: Path) -> bytes:
    """A group's shards, read only once their sizes add up to what its variables need."""
    sizes = [limits.file_size(p, "weight shard") for p in paths]
    have, offset = sum(sizes), 0
    shard_names = ", ".join(p.name for p in paths)
    for entry in entries:
        if offset + entry.nbytes > have:
            raise CheckpointError(
                f"{manifest_path}: variable {entry.name} needs bytes {offset}..{offset + entry.nbytes} "
                f"but shards {shard_names} hold only {have}: truncated or missing data"
            )
        offset += entry.nbytes
    if offset != have:
        raise CheckpointError(
            f"shards {shard_names} hold {have} bytes but {manifest_path} describes "
            f"{offset}: manifest and shards do not match"
        )
    return b"".join(limits.read_file(p, size, "weight shard") for p, size in zip(paths, sizes))


_SKIP_TF = re.compile(r"(^global_step$|/Adam(_\d+)?$|^beta[12]_power)")


def _read_tf(prefix: Path, config: str | None) -> Checkpoint:
    if config is None:
        raise ConfigError(
            f"{prefix} is a Magenta TF checkpoint, which carries no config: "
            f"pass config= one of Magenta's config names, e.g. 'cat-mel_2bar_small'"
        )
    cfg = get_config(config)
    parts = _parts(cfg.js_config())
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(prefix))
        shapes = {n: s for n, s in reader.get_variable_to_shape_map().items() if not _SKIP_TF.search(n)}
    except Exception as e:  # tf raises DataLossError, NotFoundError, OpError...
        raise CheckpointError(f"TF checkpoint {prefix} cannot be read: {_first_line(e)}") from None
    need = sum(4 * math.prod(shape) for shape in shapes.values())
    if len(shapes) > limits.MAX_VARIABLES or need > limits.MAX_WEIGHT_BYTES:
        raise CheckpointError(
            f"TF checkpoint {prefix} has {len(shapes)} variables of {need} bytes, over "
            f"the limits of {limits.MAX_VARIABLES} and {limits.MAX_WEIGHT_BYTES}"
        )
    try:
        weights = {n: np.asarray(reader.get_tensor(n), np.float32) for n in shapes}
    except Exception as e:  # as above
        raise CheckpointError(f"TF checkpoint {prefix} cannot be read: {_first_line(e)}") from None
    return Checkpoint(weights, parts, cfg.name, str(prefix))


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _tf_prefix(folder: Path) -> Path:
    indexes = sorted(
        folder.glob("*.index"), key=lambda p: [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", p.name)]
    )
    return indexes[-1].with_suffix("")  # the newest model.ckpt-N


def _read_tar(path: Path, config: str | None) -> Checkpoint:
    with tempfile.TemporaryDirectory(prefix="hmm_live_ckpt_") as tmp:
        try:
            with tarfile.open(path) as tar:
                members = tar.getmembers()
                unpacked = sum(m.size for m in members)
                if len(members) > limits.MAX_SHARDS or unpacked > limits.MAX_TAR_BYTES:
                    raise CheckpointError(
                        f"{path} holds {len(members)} files of {unpacked} bytes, over the "
                        f"limits of {limits.MAX_SHARDS} and {limits.MAX_TAR_BYTES}"
                    )
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as e:
            raise CheckpointError(f"{path} cannot be unpacked: {e}") from None
        folders = sorted(
            {p.parent for p in Path(tmp).rglob("*.index")}
            | {p.parent for p in Path(tmp).rglob("weights_manifest.json")}
        )
        if not folders:
            raise CheckpointError(f"{path} contains no MusicVAE checkpoint")
        ckpt = _read_any(folders[0], config)
        ckpt.source = str(path)
        return ckpt


def infer_spec(
    weights: dict[str, np.ndarray],
    num_steps: int,
    num_segments: int | None,
    input_depth: int,
    boolean_output: bool = False,
) -> NetworkSpec:
    """Read a network's sizes off its Magenta variable shapes (`boolean_output`: config.json's
    useBooleanDecoder, which they do not show)."""
    for marker, what in (
        ("control_preprocessing/", "control-preprocessing decoder"),
        ("input_projection_wrapper", "residual LSTM"),
    ):
        if any(marker in n for n in weights):
            raise UnsupportedModelError(f"the checkpoint has a {what} ({marker}...), which hmm_live does not support")

    def need(name: str) -> np.ndarray:
        if name not in weights:
            raise CheckpointError(f"the checkpoint lacks variable {name}")
        return weights[name]

    def cell_sizes(fmt: str) -> list[int]:
        sizes: list[int] = []
        while fmt % len(sizes) + "/bias" in weights:
            sizes.append(weights[fmt % len(sizes) + "/bias"].shape[0] // 4)
        return sizes

    bidi = "cell_%d/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell"
    hier_levels = [cell_sizes(f"encoder/hierarchical_level_{k}/{bidi}") for k in (0, 1)]
    hierarchical_encoder = bool(hier_levels[0])
    if hierarchical_encoder:
        if any(len(level) != 1 for level in hier_levels):
            raise UnsupportedModelError("hierarchical encoders need exactly 2 levels of one layer each")
        encoder_sizes = [level[0] for level in hier_levels]
        first_kernel = need(f"encoder/hierarchical_level_0/{bidi % 0}/kernel")
    else:
        encoder_sizes = cell_sizes(f"encoder/{bidi}")
        first_kernel = need(f"encoder/{bidi % 0}/kernel")
    if not encoder_sizes:
        raise CheckpointError(
            "the checkpoint has no encoder LSTM (encoder/cell_0/... or encoder/hierarchical_level_0/...)"
        )
    control_depth = first_kernel.shape[0] - encoder_sizes[0] - input_depth
    z_size = need("encoder/mu/bias").shape[0]
    conductor_sizes = cell_sizes("decoder/hierarchical_level_0/cell_%d/lstm_cell")
    base = "core_decoder/" if conductor_sizes else ""
    prefixes: list[str] = []  # one decoder per instrument (trio), else the one decoder
    while f"{base}core_decoder_{len(prefixes)}/decoder/output_projection/bias" in weights:
        prefixes.append(f"{base}core_decoder_{len(prefixes)}/decoder/")
    split = bool(prefixes)
    prefixes = prefixes or [f"{base}decoder/"]
    decoder_sizes = cell_sizes(prefixes[0] + "multi_rnn_cell/cell_%d/lstm_cell")
    if not decoder_sizes:
        raise CheckpointError(f"the checkpoint has no decoder LSTM ({prefixes[0]}multi_rnn_cell/cell_0/...)")
    for prefix in prefixes[1:]:
        if cell_sizes(prefix + "multi_rnn_cell/cell_%d/lstm_cell") != decoder_sizes:
            raise UnsupportedModelError(f"the instruments' decoders differ in size ({prefixes[0]}, {prefix})")
    split_depths = tuple(need(p + "output_projection/bias").shape[0] for p in prefixes)
    nade = f"{prefixes[0]}nade/w_enc"
    nade_hidden = 0
    if nade in weights:
        if split or weights[nade].ndim != 3:
            raise UnsupportedModelError(f"{nade}: only one NADE decoder of shape [labels, 1, hidden] is supported")
        output_depth, nade_hidden = weights[nade].shape[0], weights[nade].shape[2]
    else:
        output_depth = sum(split_depths)
    if conductor_sizes and not num_segments:
        raise CheckpointError("the checkpoint has a hierarchical decoder but its data converter has no numSegments")
    if control_depth < 0:
        raise CheckpointError(
            f"encoder kernel {bidi % 0}/kernel has {first_kernel.shape[0]} rows, "
            f"too few for {input_depth} input values and {encoder_sizes[0]} units"
        )
    return NetworkSpec(
        input_depth=input_depth,
        output_depth=output_depth,
        z_size=z_size,
        encoder_sizes=tuple(encoder_sizes),
        decoder_sizes=tuple(decoder_sizes),
        num_steps=num_steps,
        control_depth=control_depth,
        num_segments=num_segments or 0,
        hierarchical_encoder=hierarchical_encoder,
        conductor_sizes=tuple(conductor_sizes),
        split_depths=split_depths if split else (),
        nade_hidden=nade_hidden,
        boolean_output=boolean_output,
    )


def assign_weights(named: dict[str, Any], weights: dict[str, np.ndarray], source: str) -> None:
    """Copy checkpoint arrays into the network's variables, checking every name and shape."""
    missing = sorted(set(named) - set(weights))
    wrong = [
        f"{n} {list(weights[n].shape)} (expected {list(v.shape)})"
        for n, v in named.items()
        if n in weights and tuple(weights[n].shape) != tuple(v.shape)
    ]
    if missing or wrong:
        parts = ([f"missing variables: {', '.join(missing)}"] if missing else []) + (
            [f"wrong shapes: {'; '.join(wrong)}"] if wrong else []
        )
        raise CheckpointError(f"{source} does not match the model: {'. '.join(parts)}")
    for name, var in named.items():
        var.assign(weights[name])

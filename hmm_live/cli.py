"""The `hmm-live` command: lab, jam, sample, info, export, train-musicvae, eval, models and fetch."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

from hmm_live.live.clock import BPM_RANGE
from hmm_live.shipped import DEFAULT_MODEL, DRUM_JAM, MELODY_JAM, NOTEBOOKS, Jam

HUMANIZE_MODEL = "groovae_2bar_humanize"  # `jam --humanize` without a model

# Nothing heavy at import time: TensorFlow, Jupyter and MIDI load inside the commands that use
# them, so --help and every argument check answer at once.


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hmm-live", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    sample = sub.add_parser(
        "sample", aliases=["demo"], help="sample and interpolate, write MIDI files (demo: its old name, deprecated)"
    )
    sample.add_argument("checkpoint", nargs="?", help=f"checkpoint (default: {DEFAULT_MODEL.name})")
    sample.add_argument("--config", type=_config_name, help="Magenta config name, for TF checkpoints")
    sample.add_argument("--out", default="hmm_live_samples", help="folder for the MIDI files")
    sample.add_argument("-n", type=_ranged(int, 1), default=4, help="number of samples")
    sample.add_argument("--temperature", type=_ranged(float, 0, above=True), default=0.5)
    sample.add_argument("--interpolate", nargs=2, metavar="MIDI", help="two MIDI files to morph between")
    sample.add_argument("--steps", type=_ranged(int, 2), default=5, help="interpolation steps, ends included")
    sample.add_argument("--seed", type=int, default=None)

    info = sub.add_parser("info", help="describe a checkpoint")
    info.add_argument("checkpoint")
    info.add_argument("--config", type=_config_name)

    export = sub.add_parser("export", help="convert a checkpoint to magenta-js or hmm_live format")
    export.add_argument("checkpoint")
    export.add_argument("out")
    export.add_argument("--config", type=_config_name)
    export.add_argument("--format", choices=["magenta-js", "hmm_live"], default="magenta-js")
    export.add_argument("--quantization", choices=["uint8", "uint16"])

    train = sub.add_parser(
        "train-musicvae",
        help="train a MusicVAE (melody or drums; 2 or 16 bars, hierarchical, chord-conditioned) on MIDI or music21",
        description="Resumes from OUT when it holds an unfinished run of the same setup.",
    )
    train.add_argument("sources", nargs="+", help="MIDI files, folders (recursive) or music21 corpus names")
    train.add_argument("--out", required=True, help="checkpoint folder to write (and resume from)")
    train.add_argument(
        "--config",
        type=_config_name,
        default="cat-mel_2bar_small",
        help="cat-mel_2bar_small (default), cat-drums_2bar_small, their _big sizes, cat-mel_2bar_med_chords, "
        "flat-mel_16bar, hierdec-mel_16bar, hier-mel_16bar, or a GrooVAE: groovae_4bar, "
        "groovae_{1,2}bar_humanize, groovae_{1,2}bar_tap_fixed_velocity (from unquantised drum MIDI)",
    )
    train.add_argument("--z-size", type=_ranged(int, 1))
    train.add_argument("--encoder-sizes", type=_sizes, help="e.g. 512")
    train.add_argument("--decoder-sizes", type=_sizes, help="e.g. 256,256")
    train.add_argument("--steps", type=_ranged(int, 1), default=5000)
    train.add_argument("--save-every", type=_ranged(int, 1), default=200, help="steps between saves")
    train.add_argument("--batch-size", type=_ranged(int, 1))
    train.add_argument("--learning-rate", type=_ranged(float, 0, above=True))
    train.add_argument("--free-bits", type=_ranged(float, 0))
    train.add_argument("--max-beta", type=_ranged(float, 0))
    train.add_argument("--beta-rate", type=_ranged(float, 0, 1))
    train.add_argument("--sampling-rate", type=_ranged(float, 0), help="scheduled sampling rate, 0 = teacher forcing")
    train.add_argument("--transpose", type=int, nargs=2, metavar=("LO", "HI"), help="melody augmentation")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--strategy", choices=["default", "mirrored", "multi-worker"], default="default")
    train.add_argument("--cpu-devices", type=_ranged(int, 1), help="split the CPU into N logical devices (testing)")
    train.add_argument("--quantization", choices=["uint8", "uint16"], help="store weights quantised")
    train.add_argument("--keep-state", action="store_true", help="keep the resume state when done")
    train.add_argument("--init-from", help="start from this trained model's weights (same config and sizes)")

    jam = sub.add_parser(
        "jam",
        help="jam from the terminal: play into a MIDI input, each bar shown as it passes",
        description="Play into a MIDI input; the machine answers every bar on the next one, "
        "through the built-in synth and/or a MIDI output. Ctrl-C stops (all notes off). "
        "--demo plays a built-in performance instead and writes the duet to a MIDI file.",
    )
    jam.add_argument(
        "--input",
        metavar="PORT",
        help="MIDI input to play into, by name or part of it (default: a new port 'hmm_live in')",
    )
    jam.add_argument("--output", metavar="PORT", help="also send the answers to this MIDI output (default: none)")
    jam.add_argument(
        "--synth",
        action=argparse.BooleanOptionalAction,
        help="hear the answers through the built-in synth (default: on)",
    )
    jam.add_argument(
        "--session",
        metavar="FOLDER",
        help="jam with this saved session (made and trained on the shipped clips if new; "
        "default: the shipped model and clips, in memory)",
    )
    jam.add_argument("--bpm", type=_ranged(float, *BPM_RANGE), help="tempo (default: the session's, 120)")
    jam.add_argument("--temperature", type=_ranged(float, 0, above=True), help="sampling temperature (default: greedy)")
    jam.add_argument(
        "--answers",
        help="listen (default): from the bar played and the subspace; responder: from the subspace point only",
    )
    jam.add_argument(
        "--lead",
        type=_ranged(float, 0, 1),
        help="0: answer with a variation of what was played .. 1: with the subspace's own idea (default 0.5)",
    )
    jam.add_argument(
        "--drummer",
        metavar="NAME|FOLDER",
        help="a GrooVAE tap2drum model (e.g. tap2drum_1bar, downloaded on first use, or a folder): "
        "each bar you play, on any instrument, becomes drums on the next (MIDI channel 10)",
    )
    jam.add_argument(
        "--humanize",
        nargs="?",
        const=HUMANIZE_MODEL,
        metavar="NAME|FOLDER",
        help=f"humanise drum answers (velocities, timing) with a GrooVAE humanize model (default {HUMANIZE_MODEL}); "
        "the session's model must answer with drums",
    )
    jam.add_argument(
        "--drums",
        action="store_true",
        help="the drum jam: answer with drums (the shipped drum model, its subspace trained on the shipped "
        "Groove MIDI clips; MIDI channel 10); play drums, or any rhythm, on any channel",
    )
    jam.add_argument(
        "--dims",
        type=_ranged(int, 2, 4),
        help="the subspace's dimensions, 2 to 4 (default: the session's, 2); a saved session of other "
        "dimensions is trained again",
    )
    jam.add_argument("--demo", action="store_true", help="play the built-in performance instead of a keyboard")
    jam.add_argument("--bars", type=_ranged(int, 1), help="with --demo: bars to play (default 16)")
    jam.add_argument(
        "--out", help="with --demo: MIDI file for the performance and the answers (default hmm_live_jam.mid)"
    )
    jam.add_argument(
        "--no-ports", action="store_true", help="with --demo: play in-process even where JACK is available"
    )

    lab = sub.add_parser(
        "lab",
        help="open JupyterLab on the notebooks (the jam notebook first)",
        description="Serves only this machine (127.0.0.1), always behind a new random token, "
        "unless --ip says otherwise; terminals are off unless --terminals.",
    )
    lab.add_argument(
        "--port",
        type=_ranged(int, 1, 65535),
        default=8888,
        help="port to serve on, exactly (default: 8888); a busy port is an error",
    )
    lab.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    lab.add_argument("--ip", default="127.0.0.1", help="address to serve on (0.0.0.0 opens it to the network)")
    lab.add_argument("--notebook", default="jam.ipynb", help="notebook to open first")
    lab.add_argument(
        "--terminals",
        action="store_true",
        help="allow JupyterLab's terminals (a shell for anyone with the token; off by default)",
    )

    ev = sub.add_parser("eval", help="held-out metrics of a checkpoint (reconstruction, sampling realism), as JSON")
    ev.add_argument("checkpoint")
    ev.add_argument("sources", nargs="+", help="the training sources (their split is used)")
    ev.add_argument("--split", choices=["train", "validation", "test"], default="test")
    ev.add_argument("--config", type=_config_name, help="Magenta config name, for TF checkpoints")
    ev.add_argument("--out", help="also write the JSON to this file")

    sub.add_parser("models", help="list magenta-js's published MusicVAEs: what each is, its size, whether cached")
    fetch = sub.add_parser(
        "fetch",
        help="download a published MusicVAE (or a checkpoint URL) into the cache",
        description="Resumes an interrupted download. HMM_LIVE_CACHE moves the cache, "
        "HMM_LIVE_CHECKPOINT_URL the server (a mirror of Magenta's bucket).",
    )
    fetch.add_argument("name", help="a name `hmm-live models` lists, or an https:// checkpoint folder URL")
    fetch.add_argument("--quiet", action="store_true", help="no progress line")

    args = parser.parse_args(argv)
    if args.command == "demo":
        print(
            "hmm-live: warning: 'demo' is deprecated, use 'hmm-live sample' (the old name goes in the next release)",
            file=sys.stderr,
        )
        args.command = "sample"
    if args.command == "jam":
        _check_jam(jam, args)
    from hmm_live.errors import HmmLiveError

    commands = {
        "sample": _sample,
        "info": _info,
        "export": _export,
        "train-musicvae": _train,
        "eval": _eval,
        "jam": _jam,
        "lab": _lab,
        "models": _models,
        "fetch": _fetch,
    }
    try:
        return commands[args.command](args)
    except HmmLiveError as e:
        print(f"hmm-live: error: {e}", file=sys.stderr)
        return 2


def _ranged(
    kind: type[int] | type[float], low: float, high: float | None = None, above: bool = False
) -> Callable[[str], float]:
    """An argparse type: a `kind` from `low` (excluded if `above`) to `high`, else an error that gives the range."""
    if high is not None:
        allowed = f"between {low:g} and {high:g}"
    else:
        allowed = f"{'>' if above else '>='} {low:g}"
    what = "an integer" if kind is int else "a number"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what} {allowed}, got {text!r}") from None
        ok = value > low if above else value >= low  # written so that nan fails too
        if not ok or (high is not None and not value <= high):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text}")
        return value

    return parse


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(x) for x in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes are comma-separated positive integers, got {text!r}")
    return sizes


def _config_name(name: str) -> str:
    """A Magenta config name hmm_live knows; checked before any checkpoint is read."""
    from hmm_live.errors import HmmLiveError
    from hmm_live.models.musicvae.configs import get_config

    try:
        get_config(name)
    except HmmLiveError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return name


def _check_jam(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The terminal jam and --demo take different options: a misplaced one is an error, not ignored."""
    demo_only = [f"--{n}" for n in ("bars", "out") if getattr(args, n) is not None]
    demo_only += ["--no-ports"] * args.no_ports
    live_only = [f"--{n}" for n in ("input", "output", "session", "humanize") if getattr(args, n) is not None]
    live_only += [] if args.synth is None else ["--synth" if args.synth else "--no-synth"]
    if args.demo and live_only:
        parser.error(
            f"{', '.join(live_only)}: not with --demo (it plays the built-in performance to the shipped models)"
        )
    if not args.demo and demo_only:
        parser.error(f"{', '.join(demo_only)}: only with --demo")


def _load(checkpoint: str | None, config: str | None):
    from hmm_live import MusicVAE

    if checkpoint:
        model = MusicVAE.load(checkpoint, config)
    elif DEFAULT_MODEL.exists():
        checkpoint, model = str(DEFAULT_MODEL), MusicVAE.load(DEFAULT_MODEL)
    else:
        print(
            "hmm-live: no default model is shipped yet and no checkpoint was given: using an "
            "UNTRAINED cat-mel_2bar_small network, so expect noise",
            file=sys.stderr,
        )
        return MusicVAE.create(config or "cat-mel_2bar_small", seed=0)
    if config is not None:
        _check_config(model, checkpoint, config)
    return model


def _check_config(model, checkpoint: str, config: str) -> None:
    """A checkpoint that knows its model (hmm_live and magenta-js folders) must agree with --config:
    a wrong name is a mistake to report, not to ignore."""
    from hmm_live.errors import ConfigError
    from hmm_live.models.musicvae.configs import get_config

    expected = get_config(config).data_converter
    spec = model.data_converter.spec()
    same_data = spec["type"] == expected["type"] and all(spec["args"].get(k) == v for k, v in expected["args"].items())
    if model.config != config or not same_data:
        held = model.config if model.config != config else f"{spec['type']} {spec['args']}"
        raise ConfigError(
            f"--config {config!r} does not match {checkpoint}, which holds a {held} model: "
            f"leave --config out for folders, they name their own"
        )


def _sample(args) -> int:
    from hmm_live.music import read_midi, slice_bars, write_midi

    model = _load(args.checkpoint, args.config)
    print(model)
    out = Path(args.out)
    written = []
    for i, seq in enumerate(model.sample(args.n, args.temperature, seed=args.seed)):
        written.append(write_midi(seq, out / f"sample_{i}.mid"))
    if args.interpolate:
        conv = model.data_converter
        a, b = (slice_bars(read_midi(p), 0, conv.num_bars, conv.steps_per_quarter) for p in args.interpolate)
        for i, seq in enumerate(model.interpolate(a, b, args.steps)):
            written.append(write_midi(seq, out / f"interpolation_{i}.mid"))
    for path in written:
        print(f"wrote {path}")
    return 0


def _info(args) -> int:
    model = _load(args.checkpoint, args.config)
    print(model)
    print(f"data converter: {model.data_converter.spec()}")
    if model.chord_encoder:
        print(f"chord encoder: {model.chord_encoder.name}")
    if model.extra_controls:
        print("extra controls: " + ", ".join(f"{name} ({depth} per step)" for name, depth in model.extra_controls))
    return 0


def _export(args) -> int:
    model = _load(args.checkpoint, args.config)
    path = model.save(args.out) if args.format == "hmm_live" else model.export(args.out, quantization=args.quantization)
    print(f"wrote {path}")
    return 0


def _models(args) -> int:
    from hmm_live.models.musicvae import catalog

    name = max(len(p.name) for p in catalog.PUBLISHED.values())
    family = max(len(p.family) for p in catalog.PUBLISHED.values())
    print(f"{'NAME':<{name}} {'FAMILY':<{family}} {'BARS':>4} {'SIZE':>9}  CACHED  DESCRIPTION")
    for p in catalog.PUBLISHED.values():
        cached = "yes" if catalog.cached(p.name) else "-"
        print(f"{p.name:<{name}} {p.family:<{family}} {p.bars:>4} {p.size_mb:>6.1f} MB  {cached:<6}  {p.description}")
    print(f"cache: {catalog.cache()}; server: {catalog.base_url()}")
    return 0


def _fetch(args) -> int:
    from hmm_live.models.musicvae import catalog

    print(catalog.fetch(args.name, progress=not args.quiet))
    return 0


def _train(args) -> int:
    from hmm_live.training import train_musicvae

    names = ("batch_size", "learning_rate", "free_bits", "max_beta", "beta_rate", "sampling_rate", "transpose")
    hparams = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if "transpose" in hparams:
        hparams["transpose"] = tuple(hparams["transpose"])
    try:
        run = train_musicvae(
            args.sources,
            args.out,
            args.config,
            z_size=args.z_size,
            encoder_sizes=args.encoder_sizes,
            decoder_sizes=args.decoder_sizes,
            steps=args.steps,
            save_every=args.save_every,
            seed=args.seed,
            strategy=args.strategy,
            cpu_devices=args.cpu_devices,
            quantization=args.quantization,
            keep_state=args.keep_state,
            init_from=args.init_from,
            **hparams,
        )
    except KeyboardInterrupt:
        print(
            f"\nhmm-live: interrupted; run the same command again to resume from the last save in {args.out}",
            file=sys.stderr,
        )
        return 130
    print(f"data: {run.report.summary()}")
    print(f"trained {run.model} for {run.steps} steps: {args.out}")
    return 0


def _jam(args) -> int:
    from hmm_live.errors import ConfigError
    from hmm_live.live.answers import ANSWERS

    if args.answers is not None and args.answers not in ANSWERS:  # before any model loads
        raise ConfigError(f"--answers must be one of {', '.join(ANSWERS)}, got {args.answers!r}")
    music = {
        k: v
        for k, v in (
            ("bpm", args.bpm),
            ("temperature", args.temperature),
            ("answers", args.answers),
            ("lead", args.lead),
        )
        if v is not None
    }
    if args.demo:
        return _jam_demo(args, music)
    from hmm_live import jam_terminal
    from hmm_live.live import drummer
    from hmm_live.live.drummer import HUMANIZE, TAP2DRUM

    log = functools.partial(print, flush=True)  # each bar shows as it passes, even through a pipe
    try:
        session = jam_terminal.prepare(args.session, log, _shipped_jam(args), args.dims)
    except KeyboardInterrupt:
        print("\nhmm-live: interrupted before the jam started", file=sys.stderr)
        return 130
    grooves = {"drummer": args.drummer, "humanize": args.humanize}
    for name, ref in grooves.items():  # a name that is no model fails now, not after the training
        if ref is not None:
            drummer.check_ref(ref, TAP2DRUM if name == "drummer" else HUMANIZE)
    settings = {**music, "input": args.input, "output": args.output or False, "synth": args.synth is not False}
    settings |= {k: v for k, v in grooves.items() if v is not None}
    return jam_terminal.jam(session, settings, log)


def _jam_demo(args, music: dict) -> int:
    from hmm_live.live import demo, drummer
    from hmm_live.live.drummer import TAP2DRUM

    drums = None if args.drummer is None else drummer.load(args.drummer, TAP2DRUM)
    summary = demo.run(
        args.bars or 16,
        args.out or "hmm_live_jam.mid",
        use_ports=not args.no_ports,
        shipped=_shipped_jam(args),
        latent_dims=args.dims or 2,
        drummer=drums,
        **music,
    )
    print(
        f"{summary['answered']} of {summary['bars']} bars answered"
        + (f", {summary['drummed']} drummed to" if drums else "")
        + f" ({summary['ports']})"
    )
    if summary["last_error"]:
        print(f"last error: {summary['last_error']}", file=sys.stderr)
    return 0


def _shipped_jam(args) -> Jam:
    """The shipped model and clips the jam starts from: `--drums`' or the melody jam's."""
    return DRUM_JAM if args.drums else MELODY_JAM


def _lab(args) -> int:
    import secrets

    _check_port_free(args.ip, args.port)  # that port or a clear error, never another one
    if not _is_loopback(args.ip):
        print(
            f"hmm-live lab: WARNING: serving on {args.ip}, not only this machine: anyone who can reach it and "
            f"has the token runs code as {os.environ.get('USER', 'this user')}. Prefer an SSH tunnel "
            f"(docs/sound.md: 'Jamming with a kernel on another machine').",
            file=sys.stderr,
        )
    token = secrets.token_hex(24)  # ours, on the command line: a Jupyter config that empties it cannot win
    argv = [
        f"--ServerApp.root_dir={NOTEBOOKS}",
        f"--ServerApp.ip={args.ip}",
        f"--LabApp.default_url=/lab/tree/{args.notebook}",
        f"--ServerApp.port={args.port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.terminals_enabled={args.terminals}",
    ]
    host = "127.0.0.1" if args.ip in ("0.0.0.0", "::") else args.ip
    print(f"hmm-live lab: open http://{host}:{args.port}/lab/tree/{args.notebook}?token={token}", flush=True)
    if args.no_browser:
        argv.append("--no-browser")
    if os.geteuid() == 0:  # the set-up runs as root on a fresh machine
        argv.append("--allow-root")
    from jupyterlab.labapp import LabApp

    LabApp.launch_instance(argv)
    return 0


def _is_loopback(ip: str) -> bool:
    import ipaddress

    try:
        return ip == "localhost" or ipaddress.ip_address(ip).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _check_port_free(ip: str, port: int) -> None:
    """Say at once that the port is taken (Jupyter would log "trying another port" and then give up)."""
    import errno
    import socket

    from hmm_live.errors import HmmLiveError

    try:
        socket.create_server((ip, port)).close()
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise HmmLiveError(f"port {port} on {ip} is in use (another Jupyter?): choose another --port") from None


def _eval(args) -> int:
    import json

    from hmm_live.files import atomic_write, cache_dir
    from hmm_live.music.groove import GrooveConverter
    from hmm_live.training import evaluate, extract
    from hmm_live.training.evaluate import groove_scores, input_baseline, sampling_realism
    from hmm_live.training.pipeline import Chords

    model = _load(args.checkpoint, args.config)
    splits, report = extract(args.sources, model.data_converter, cache_dir("examples"), model.chord_encoder)
    print(f"data: {report.summary()}", file=sys.stderr)
    if not len(splits[args.split]):
        print(f"hmm-live: error: the {args.split} split of {', '.join(args.sources)} is empty", file=sys.stderr)
        return 2
    labels = splits[args.split]
    controls = None
    if model.chord_encoder:
        controls = Chords(splits[f"{args.split}_chords"], splits["chord_symbols"], model.chord_encoder).vectors()
    result = {"checkpoint": args.checkpoint, "split": args.split, **evaluate(model, labels, controls=controls)}
    converter = model.data_converter
    if not converter.continuous:
        result["realism"] = sampling_realism(model, labels, controls=controls)
    elif isinstance(converter, GrooveConverter) and (converter.tapify or converter.humanize):
        result["baseline"] = groove_scores(input_baseline(model, splits["train"], labels), labels)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with atomic_write(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

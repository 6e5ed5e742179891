"""The `hmm-live` command: lab, jam, demo, info, export, train-musicvae and eval."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hmm_live.shipped import DEFAULT_MODEL, NOTEBOOKS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hmm-live", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="sample and interpolate, write MIDI files")
    demo.add_argument("checkpoint", nargs="?", help=f"checkpoint (default: {DEFAULT_MODEL.name})")
    demo.add_argument("--config", help="Magenta config name, for TF checkpoints")
    demo.add_argument("--out", default="hmm_live_demo", help="folder for the MIDI files")
    demo.add_argument("-n", type=int, default=4, help="number of samples")
    demo.add_argument("--temperature", type=float, default=0.5)
    demo.add_argument("--interpolate", nargs=2, metavar="MIDI", help="two MIDI files to morph between")
    demo.add_argument("--steps", type=int, default=5, help="interpolation steps, ends included")
    demo.add_argument("--seed", type=int, default=None)

    info = sub.add_parser("info", help="describe a checkpoint")
    info.add_argument("checkpoint")
    info.add_argument("--config")

    export = sub.add_parser("export", help="convert a checkpoint to magenta-js or hmm_live format")
    export.add_argument("checkpoint")
    export.add_argument("out")
    export.add_argument("--config")
    export.add_argument("--format", choices=["magenta-js", "hmm_live"], default="magenta-js")
    export.add_argument("--quantization", choices=["uint8", "uint16"])

    train = sub.add_parser("train-musicvae", help="train a 2-bar MusicVAE on MIDI or a music21 collection",
                           description="Resumes from OUT when it holds an unfinished run of the same setup.")
    train.add_argument("sources", nargs="+", help="MIDI files, folders (recursive) or music21 corpus names")
    train.add_argument("--out", required=True, help="checkpoint folder to write (and resume from)")
    train.add_argument("--config", default="cat-mel_2bar_small",
                       help="cat-mel_2bar_small (default), cat-drums_2bar_small, or their _big sizes")
    train.add_argument("--z-size", type=int)
    train.add_argument("--encoder-sizes", type=_sizes, help="e.g. 512")
    train.add_argument("--decoder-sizes", type=_sizes, help="e.g. 256,256")
    train.add_argument("--steps", type=int, default=5000)
    train.add_argument("--save-every", type=int, default=200, help="steps between saves")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--free-bits", type=float)
    train.add_argument("--max-beta", type=float)
    train.add_argument("--beta-rate", type=float)
    train.add_argument("--sampling-rate", type=float, help="scheduled sampling rate, 0 = teacher forcing")
    train.add_argument("--transpose", type=int, nargs=2, metavar=("LO", "HI"), help="melody augmentation")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--strategy", choices=["default", "mirrored", "multi-worker"], default="default")
    train.add_argument("--cpu-devices", type=int, help="split the CPU into N logical devices (testing)")
    train.add_argument("--quantization", choices=["uint8", "uint16"], help="store weights quantised")
    train.add_argument("--keep-state", action="store_true", help="keep the resume state when done")
    train.add_argument("--init-from", help="start from this trained model's weights (same config and sizes)")

    jam = sub.add_parser("jam", help="jam with the responder (headless: --demo)")
    jam.add_argument("--demo", action="store_true", required=True,
                     help="play the built-in performance (to jam yourself, use `hmm-live lab`)")
    jam.add_argument("--bars", type=int, default=16)
    jam.add_argument("--out", default="hmm_live_jam.mid", help="MIDI file for the performance and the answers")
    jam.add_argument("--bpm", type=float, default=120.0)
    jam.add_argument("--temperature", type=float, help="sampling temperature (default: greedy)")
    jam.add_argument("--no-ports", action="store_true", help="play in-process even where JACK is available")
    jam.add_argument("--answers", default="listen",
                     help="listen: from the bar played and the subspace; responder: from the subspace point only")
    jam.add_argument("--lead", type=float, default=0.5,
                     help="0: answer with a variation of what was played .. 1: with the subspace's own idea")

    lab = sub.add_parser("lab", help="open JupyterLab on the notebooks (the jam notebook first)",
                         description="Serves only this machine (127.0.0.1) with a token, unless --ip says otherwise.")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    lab.add_argument("--ip", default="127.0.0.1", help="address to serve on (0.0.0.0 opens it to the network)")
    lab.add_argument("--notebook", default="jam.ipynb", help="notebook to open first")

    ev = sub.add_parser("eval", help="held-out metrics of a checkpoint (reconstruction, sampling realism), as JSON")
    ev.add_argument("checkpoint")
    ev.add_argument("sources", nargs="+", help="the training sources (their split is used)")
    ev.add_argument("--split", choices=["train", "validation", "test"], default="test")
    ev.add_argument("--config", help="Magenta config name, for TF checkpoints")
    ev.add_argument("--out", help="also write the JSON to this file")

    args = parser.parse_args(argv)
    from hmm_live.errors import HmmLiveError

    commands = {"demo": _demo, "info": _info, "export": _export, "train-musicvae": _train, "eval": _eval,
                "jam": _jam, "lab": _lab}
    try:
        return commands[args.command](args)
    except HmmLiveError as e:
        print(f"hmm-live: error: {e}", file=sys.stderr)
        return 2


def _sizes(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are comma-separated integers, got {text!r}") from None


def _load(checkpoint: str | None, config: str | None):
    from hmm_live import MusicVAE

    if checkpoint:
        return MusicVAE.load(checkpoint, config)
    if DEFAULT_MODEL.exists():
        return MusicVAE.load(DEFAULT_MODEL)
    print("hmm-live: no default model is shipped yet and no checkpoint was given: using an "
          "UNTRAINED cat-mel_2bar_small network, so expect noise", file=sys.stderr)
    return MusicVAE.create("cat-mel_2bar_small", seed=0)


def _demo(args) -> int:
    from hmm_live.music import read_midi, slice_bars, write_midi

    model = _load(args.checkpoint, args.config)
    print(model)
    out = Path(args.out)
    written = []
    for i, seq in enumerate(model.sample(args.n, args.temperature, seed=args.seed)):
        written.append(write_midi(seq, out / f"sample_{i}.mid"))
    if args.interpolate:
        a, b = (slice_bars(read_midi(p), 0, model.data_converter.num_bars) for p in args.interpolate)
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
    return 0


def _export(args) -> int:
    model = _load(args.checkpoint, args.config)
    path = model.save(args.out) if args.format == "hmm_live" else model.export(args.out, quantization=args.quantization)
    print(f"wrote {path}")
    return 0


def _train(args) -> int:
    from hmm_live.training import train_musicvae

    names = ("batch_size", "learning_rate", "free_bits", "max_beta", "beta_rate", "sampling_rate", "transpose")
    hparams = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if "transpose" in hparams:
        hparams["transpose"] = tuple(hparams["transpose"])
    try:
        run = train_musicvae(args.sources, args.out, args.config, z_size=args.z_size,
                             encoder_sizes=args.encoder_sizes, decoder_sizes=args.decoder_sizes,
                             steps=args.steps, save_every=args.save_every, seed=args.seed,
                             strategy=args.strategy, cpu_devices=args.cpu_devices,
                             quantization=args.quantization, keep_state=args.keep_state,
                             init_from=args.init_from, **hparams)
    except KeyboardInterrupt:
        print(f"\nhmm-live: interrupted; run the same command again to resume from the last save "
              f"in {args.out}", file=sys.stderr)
        return 130
    print(f"data: {run.report.summary()}")
    print(f"trained {run.model} for {run.steps} steps: {args.out}")
    return 0


def _jam(args) -> int:
    from hmm_live.live import demo

    if args.bars < 1:
        print(f"hmm-live: error: --bars must be >= 1, got {args.bars}", file=sys.stderr)
        return 2
    summary = demo.run(args.bars, args.out, args.bpm, args.temperature, use_ports=not args.no_ports,
                       answers=args.answers, lead=args.lead)
    print(f"{summary['answered']} of {summary['bars']} bars answered ({summary['ports']})")
    if summary["last_error"]:
        print(f"last error: {summary['last_error']}", file=sys.stderr)
    return 0


def _lab(args) -> int:
    from jupyterlab.labapp import LabApp

    argv = [f"--ServerApp.root_dir={NOTEBOOKS}", f"--ServerApp.ip={args.ip}", f"--ServerApp.port={args.port}",
            f"--LabApp.default_url=/lab/tree/{args.notebook}"]
    if args.no_browser:
        argv.append("--no-browser")
    if os.geteuid() == 0:  # the set-up runs as root on a fresh machine
        argv.append("--allow-root")
    LabApp.launch_instance(argv)  # token auth: Jupyter makes a random token and prints the URL with it
    return 0


def _eval(args) -> int:
    import json

    from hmm_live.files import atomic_write, cache_dir
    from hmm_live.training import evaluate, extract
    from hmm_live.training.evaluate import sampling_realism

    model = _load(args.checkpoint, args.config)
    splits, report = extract(args.sources, model.data_converter, cache_dir("examples"))
    print(f"data: {report.summary()}", file=sys.stderr)
    if not len(splits[args.split]):
        print(f"hmm-live: error: the {args.split} split of {', '.join(args.sources)} is empty", file=sys.stderr)
        return 2
    labels = splits[args.split]
    result = {"checkpoint": args.checkpoint, "split": args.split, **evaluate(model, labels),
              "realism": sampling_realism(model, labels)}
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with atomic_write(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

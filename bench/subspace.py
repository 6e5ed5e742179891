"""Subspacer and Responder benchmark: speed and quality on the default melody model.

Speed: a 2-D Subspacer fit on 256 clips x 100 epochs, a Responder fit on the
same clips (x 16 rotations) x 100 epochs, and the live path for one bar
(Responder predict + Subspacer decode + MusicVAE greedy decode), p50/p99, for
the first Responder design (shape "roll") and the default one.

Quality: clips from two clearly different sources, O'Neill's 1850 folk tunes
and the soprano lines of Bach's chorales (music21's corpus), split by tune.
 - separation: a linear classifier (Fisher's discriminant) on 2-D subspace
   means of the training tunes' clips, scored on held-out tunes' clips;
 - responder rank-1: for held-out transpositions (+-1, +-2 semitones) and small
   edits (one note dropped or moved by a step) of the bars a responder trained
   on, how often the predicted point is nearer its own clip's mean than any
   other clip's, for the original design, each change alone and the default,
   averaged over five libraries of 16 and three of 64 clips.

Convergence: the default fit (until the clips decode back) against the old
100 epochs, for libraries of 16 and 64 clips: how many clips decode back from
their own points, and the fit's seconds on one traced Subspacer (a new one's
first fit also traces its steps: "first_fit_s", two clips, the layout alone).
Retraining, on new Subspacers as a session makes them: how far the clips of a
60-clip map move when it is retrained on the same clips, and with one or four
clips added, aligned to the old map (the session's way) and fresh (with
another seed: a fit is deterministic), as the median over clips of the
distance moved over the old map's spread (the RMS distance of its clip means
from their centroid).

    python bench/subspace.py [--quick] [--out FILE]

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import arguments, emit, log, stats_ms, target

from hmm_live import MusicVAE
from hmm_live.models.responder import Responder
from hmm_live.models.subspacer import Subspacer
from hmm_live.music.clips import ClipLibrary
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, quantize, windows
from hmm_live.training.sources import Piece, music21_to_sequence, read_pieces, split_of

MODEL = Path(__file__).resolve().parents[1] / "checkpoints" / "mel_2bar_folk"
# responder variants scored side by side: the first design ("roll", plain MSE), then each change alone
VARIANTS = {
    "roll_mse": {"shape": "roll", "contrast": 0.0},
    "roll": {"shape": "roll"},
    "pooled_mse": {"shape": "pooled", "contrast": 0.0},
    "default": {},
}


def tune_clips(pieces, per_tune: int) -> list[tuple[str, str, NoteSequence]]:
    """(name, split, 2-bar clip) for up to `per_tune` windows with notes of each tune."""
    out = []
    for name, split, seq in pieces:
        found = [w for w in windows(quantize(seq), 2, 2) if len(w.notes) >= 3][:per_tune]
        out += [(f"{name}@{i}", split, w) for i, w in enumerate(found)]
    return out


def folk(n: int):
    for piece in read_pieces(["oneills1850"]):
        if isinstance(piece, Piece):
            yield piece.name, piece.split, piece.sequence
            n -= 1
            if not n:
                return


def chorales(n: int):
    from music21 import corpus

    for score in corpus.chorales.Iterator(returnType="stream"):
        title = (score.metadata.title if score.metadata else None) or f"chorale {n}"
        try:
            seq = music21_to_sequence(score, title)
        except Exception:  # chorales without whole 4/4 bars are skipped
            continue
        yield title, split_of(title), seq
        n -= 1
        if not n:
            return


def fisher_accuracy(train_x, train_y, test_x, test_y) -> float:
    """Held-out accuracy of Fisher's linear discriminant between two classes."""
    m0, m1 = train_x[train_y == 0].mean(0), train_x[train_y == 1].mean(0)
    cov = np.cov(train_x[train_y == 0].T) + np.cov(train_x[train_y == 1].T) + 1e-6 * np.eye(train_x.shape[1])
    w = np.linalg.solve(cov, m1 - m0)
    threshold = w @ (m0 + m1) / 2
    return float(((test_x @ w > threshold) == test_y).mean())


def edits(seq: NoteSequence, rng) -> list[NoteSequence]:
    """Transpositions by -2, -1, +1, +2 and two small edits of a one-bar sequence."""
    out = []
    for shift in (-2, -1, 1, 2):
        t = NoteSequence()
        t.CopyFrom(seq)
        for n in t.notes:
            n.pitch += shift
        out.append(t)
    if len(seq.notes) >= 2:
        dropped = NoteSequence()
        dropped.CopyFrom(seq)
        del dropped.notes[int(rng.integers(len(seq.notes)))]
        out.append(dropped)
    moved = NoteSequence()
    moved.CopyFrom(seq)
    note = moved.notes[int(rng.integers(len(moved.notes)))]
    shift = 1 if note.quantized_start_step < 15 else -1
    note.quantized_start_step += shift
    note.quantized_end_step = max(note.quantized_end_step + shift, note.quantized_start_step + 1)
    out.append(moved)
    return out


def rank1(responder: Responder, library: ClipLibrary, rng) -> dict[str, float]:
    """How often a bar lands nearer its own clip's mean than any other clip's.

    "rank1" scores what the responder is for: placing transpositions and small
    edits of the bars it trained on where those bars are. "exact" is those bars unchanged, and
    "held_out_bars" the changed versions of the bars its validation split kept back.
    """
    means = responder.subspacer.encode(library)[0]
    trained = set(responder.split(sum(clip.bars for clip in library))[0].tolist())
    hits: dict[str, list] = {"exact": [], "transposed": [], "dropped": [], "moved": [], "held_out_bars": []}
    index = -1
    for i, clip in enumerate(library):
        for b in range(clip.bars):
            index += 1
            bar = clip.bar(b)
            if not bar.notes:
                continue
            variants = [bar] + edits(bar, rng)
            points = responder.predict(variants)
            right = list(np.argmin(((points[:, None] - means[None]) ** 2).sum(-1), axis=1) == i)
            if index not in trained:
                hits["held_out_bars"] += right[1:]
                continue
            hits["exact"].append(right[0])
            hits["transposed"] += right[1:5]
            hits["dropped"] += right[5:-1]  # one-note bars have no drop edit
            hits["moved"].append(right[-1])
    out = {k: float(np.mean(v)) if v else None for k, v in hits.items()}
    out["rank1"] = float(np.mean(hits["transposed"] + hits["dropped"] + hits["moved"]))
    return out


def movement(old: Subspacer, new: Subspacer) -> float:
    """Median distance the old map's clips moved, over the old map's spread."""
    rows = [new.clip_names.index(name) for name in old.clip_names]
    spread = np.sqrt(((old.clip_mu - old.clip_mu.mean(0)) ** 2).sum(1).mean())
    return float(np.median(np.linalg.norm(new.clip_mu[rows] - old.clip_mu, axis=1)) / spread)


def timed_fit(sub: Subspacer, library: ClipLibrary, **options) -> dict:
    start = time.perf_counter()
    sub.fit(library, **options)
    return {
        "fit_s": time.perf_counter() - start,
        **{k: sub.info[k] for k in ("decodes_back", "epochs", "stopped", "aligned_on")},
    }


def convergence(model: MusicVAE, pool: list[NoteSequence], rng, quick: bool) -> dict:
    """The default fit against 100 epochs, per library size; then retraining with and without alignment."""
    sub = Subspacer(model, latent_dims=2)  # every fit starts afresh: one instance, traced once
    out: dict = {"first_fit_s": timed_fit(sub, ClipLibrary(2, [("a", pool[0]), ("b", pool[1])]), time_budget=1e-9)}
    for size in (16, 64):
        runs: dict[str, list[dict]] = {"default": [], "100_epochs": []}
        for _ in range(1 if quick else 3):
            lib = ClipLibrary(
                2, [(f"clip {i}", pool[int(j)]) for i, j in enumerate(rng.choice(len(pool), size, replace=False))]
            )
            runs["default"].append(timed_fit(sub, lib))
            runs["100_epochs"].append(timed_fit(sub, lib, epochs=100))
        out[f"{size}_clips"] = {
            name: {
                "decodes_back": float(np.mean([r["decodes_back"] for r in rows])),
                "fit_s": float(np.mean([r["fit_s"] for r in rows])),
                "runs": rows,
            }
            for name, rows in runs.items()
        }
    picked = [pool[int(j)] for j in rng.choice(len(pool), 64, replace=False)]
    lib = {n: ClipLibrary(2, [(f"clip {i}", seq) for i, seq in enumerate(picked[:n])]) for n in (60, 61, 64)}
    old = Subspacer(model, latent_dims=2)
    out["retrain_base"] = timed_fit(old, lib[60])
    for case, n in (("same_clips", 60), ("one_added", 61), ("four_added", 64)):
        aligned, fresh = Subspacer(model, latent_dims=2), Subspacer(model, latent_dims=2, seed=1)
        fits = {"aligned": timed_fit(aligned, lib[n], align_to=old), "fresh": timed_fit(fresh, lib[n])}
        out[f"retrain_{case}"] = {
            "movement_aligned": movement(old, aligned),
            "movement_fresh": movement(old, fresh),
            **fits,
        }
    return out


def main() -> None:
    args = arguments(__doc__, "smaller data and fewer repetitions (CI)").parse_args()
    rng = np.random.default_rng(0)
    model = MusicVAE.load(MODEL)
    tunes = 24 if args.quick else 80
    log(f"reading {tunes} folk tunes and {tunes} chorales")
    clips = {"folk": tune_clips(folk(tunes), 4), "chorale": tune_clips(chorales(tunes), 4)}
    report: dict = {"model": MODEL.name, "quick": args.quick, "clips": {k: len(v) for k, v in clips.items()}}

    # speed: 256 clips of both sources (repeated if there are fewer)
    pool = [c for v in clips.values() for c in v]
    library = ClipLibrary(
        2, [(f"{i}:{name}", seq) for i, (name, _, seq) in enumerate(pool[j % len(pool)] for j in range(256))]
    )
    epochs = 20 if args.quick else 100
    subspacer = Subspacer(model, latent_dims=2)
    codes = subspacer.codes(library)
    subspacer.fit(codes[:8], epochs=1)  # traces the training step
    start = time.perf_counter()
    subspacer.fit(codes, epochs=epochs)
    report["subspacer_fit_s"] = time.perf_counter() - start
    default = Responder(subspacer).shape
    report["responder_default_shape"] = default
    speed = report["responder_speed_by_shape"] = {}
    bar = library[0].bar(0)
    for shape in dict.fromkeys(("roll", default)):  # the first design and the default, side by side
        responder = Responder(subspacer, shape=shape)
        responder.fit(ClipLibrary(2, [(c.name, c.sequence) for c in list(library)[:4]]), epochs=1)
        start = time.perf_counter()
        responder.fit(library, epochs=epochs)
        fit_s = time.perf_counter() - start
        times = []
        for _ in range(50 if args.quick else 500):
            start = time.perf_counter()
            model.decode_labels(subspacer.decode(responder.predict(bar)), length=STEPS_PER_BAR)
            times.append(time.perf_counter() - start)
        speed[shape] = {"responder_fit_s": fit_s, "bar_to_answer": stats_ms(times[10:])}
    report["responder_fit_s"], report["bar_to_answer"] = (
        speed[default]["responder_fit_s"],
        speed[default]["bar_to_answer"],
    )
    report["fit_epochs"] = epochs

    # quality: separation on held-out tunes
    log("separation")
    train = [(k, seq) for k, v in clips.items() for name, split, seq in v if split == "train"]
    held = [(k, seq) for k, v in clips.items() for name, split, seq in v if split != "train"]
    names = list(clips)
    y_train = np.array([names.index(k) for k, _ in train])
    y_held = np.array([names.index(k) for k, _ in held])
    codes_train, codes_held = (Subspacer(model).codes([s for _, s in part]) for part in (train, held))
    accuracy = []
    for seed in range(3):
        sub = Subspacer(model, latent_dims=2, seed=seed)
        sub.fit(codes_train, epochs=100)
        accuracy.append(fisher_accuracy(sub.encode(codes_train)[0], y_train, sub.encode(codes_held)[0], y_held))
    report["separation"] = {
        "train_clips": len(train),
        "held_out_clips": len(held),
        "accuracy_2d_per_seed": accuracy,
        "accuracy_2d": float(np.mean(accuracy)),
        "accuracy_musicvae_codes": fisher_accuracy(codes_train, y_train, codes_held, y_held),
    }

    # quality: responder rank-1 on edited bars, per library size and shape, averaged over libraries
    log("responder rank-1")
    report["responder_rank1"] = {}
    for size in (16, 64):
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
        for _ in range(1 if args.quick else 5 if size == 16 else 3):
            picked = [train[int(i)] for i in rng.choice(len(train), size, replace=False)]
            lib = ClipLibrary(2, [(f"clip {i}", seq) for i, (_, seq) in enumerate(picked)])
            sub = Subspacer(model, latent_dims=2)
            sub.fit(lib, epochs=100)
            for name, options in VARIANTS.items():
                responder = Responder(sub, **options)
                history = responder.fit(lib, epochs=100)
                runs[name].append(
                    {**rank1(responder, lib, np.random.default_rng(1)), "val_loss": history["val_loss"][-1]}
                )
        for name, rows in runs.items():
            report["responder_rank1"][f"{size}_clips_{name}"] = {
                **{
                    k: float(np.mean([r[k] for r in rows if r[k] is not None]))
                    for k in rows[0]
                    if any(r[k] is not None for r in rows)
                },
                "rank1_per_library": [r["rank1"] for r in rows],
            }
    log("convergence and retraining")
    conv = report["convergence"] = convergence(model, [seq for _, seq in train], rng, args.quick)
    report["targets"] = [
        target("subspacer_fit_s", report["subspacer_fit_s"], "<=", 2.0),
        target("decodes_back_16_clips", conv["16_clips"]["default"]["decodes_back"], ">=", 0.95),
        target("decodes_back_64_clips", conv["64_clips"]["default"]["decodes_back"], ">=", 0.95),
        target("default_fit_s_64_clips", conv["64_clips"]["default"]["fit_s"], "<=", 5.0),
        target("retrain_same_clips_movement", conv["retrain_same_clips"]["movement_aligned"], "<=", 0.1),
        target("responder_fit_s", report["responder_fit_s"], "<=", 10.0),
        target("bar_to_answer_p99_ms", report["bar_to_answer"]["p99_ms"], "<=", 10.0),
        target("separation_accuracy_2d", report["separation"]["accuracy_2d"], ">=", 0.9),
        target("responder_rank1_16_clips", report["responder_rank1"]["16_clips_default"]["rank1"], ">=", 0.8),
    ]
    emit(report, args.out)


if __name__ == "__main__":
    main()

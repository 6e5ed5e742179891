"""Train the performer's subspace on the shipped clips, then decode points of it.

A 2-D Subspacer over the default MusicVAE, fitted on the 16 shipped two-bar
clips (checkpoints/jam_folk/clips.mid) until they decode back from their own
points (seconds); a Responder that places a played bar on that map; one point
decoded to a melody and written as MIDI (default: examples_out/point.mid).

Run: .venv/bin/python examples/train_subspace.py [OUT_FOLDER]
"""

import sys
from pathlib import Path

from hmm_live import ClipLibrary, MusicVAE, Responder, Subspacer
from hmm_live.music import write_midi
from hmm_live.shipped import DEFAULT_MODEL, DEMO_CLIPS

out = Path(sys.argv[1] if len(sys.argv) > 1 else "examples_out")
out.mkdir(parents=True, exist_ok=True)

vae = MusicVAE.load(DEFAULT_MODEL)
clips = ClipLibrary.from_midi(DEMO_CLIPS, bars=2)  # named after the tunes' markers
sub = Subspacer(vae, latent_dims=2)
sub.fit(clips)  # MidiMe's layout, then until 95% of the clips decode back (or 10 s)
print({k: sub.info[k] for k in ("epochs", "decodes_back", "stopped")})  # why the fit ended
for name, (x, y) in zip(sub.clip_names, sub.clip_mu):  # the map: each clip's mean
    print(f"{x:+.2f} {y:+.2f}  {name}")

melody = sub.generate([[0.5, -1.0]])[0]  # a point of the map -> MusicVAE code -> greedy decode
print("point (0.5, -1.0):", [n.pitch for n in melody.notes])
write_midi(melody, out / "point.mid")

responder = Responder(sub)
responder.fit(clips, epochs=100)  # every bar, any rotation, 10% held out
point = responder.predict([(0, 67), (4, 71), (8, 74), (12, 72)])  # (step, pitch) hits of one bar
print("that bar lands at", point)  # [latent_dims]

"""Load the shipped default MusicVAE, sample melodies at a temperature, interpolate, write MIDI.

The quickstart notebook's steps without a notebook: 3 samples of the default
melody model (checkpoints/mel_2bar_folk) at temperature 0.5, a 5-step spherical
interpolation from the first sample to the second (ends included), each
written as a MIDI file into a folder (default: examples_out/).

Run: .venv/bin/python examples/load_and_sample.py [OUT_FOLDER]
"""

import sys
from pathlib import Path

from hmm_live import MusicVAE
from hmm_live.music import write_midi
from hmm_live.shipped import DEFAULT_MODEL

out = Path(sys.argv[1] if len(sys.argv) > 1 else "examples_out")
out.mkdir(parents=True, exist_ok=True)

model = MusicVAE.load(DEFAULT_MODEL)  # a folder hmm_live saved; it names its own config
print(model)

samples = model.sample(3, temperature=0.5, seed=1)  # z ~ N(0, I), decoded at temperature 0.5
for i, sample in enumerate(samples, 1):
    print(f"sample {i}:", [n.pitch for n in sample.notes])
    write_midi(sample, out / f"sample_{i}.mid")

morph = model.interpolate(samples[0], samples[1], num_steps=5)  # greedy decodes along the slerp
for i, step in enumerate(morph, 1):
    write_midi(step, out / f"morph_{i}.mid")

variations = model.similar(samples[0], 2, similarity=0.8, seed=2)  # near the first sample
for i, variation in enumerate(variations, 1):
    write_midi(variation, out / f"variation_{i}.mid")
print(f"wrote {len(samples) + len(morph) + len(variations)} MIDI files to {out}/")

"""Notebook widgets for a session: each works alone, `Panel` assembles them all.

Importing this puts BokehJS in the notebook page (the plots need it loaded first).
"""
from hmm_live.ui.bokeh import load_bokeh
from hmm_live.ui.controls import LastBars, PortPicker, StatusLights, Transport
from hmm_live.ui.library import ClipLibraryPanel, audio_player
from hmm_live.ui.panel import Panel
from hmm_live.ui.roll import PianoRoll
from hmm_live.ui.sliders import LatentSliders
from hmm_live.ui.subspace_map import SubspaceMap
from hmm_live.ui.training import TrainingPanel

load_bokeh()

__all__ = ["Panel", "Transport", "PortPicker", "StatusLights", "LastBars", "LatentSliders", "SubspaceMap",
           "TrainingPanel", "ClipLibraryPanel", "PianoRoll", "audio_player"]

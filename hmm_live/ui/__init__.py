"""Notebook widgets for a session: each works alone, `Panel` assembles them all.

The widgets with plots put BokehJS in the page themselves (see bokeh.py), and
importing this lets widget callbacks run while a cell runs (see kernel.py).
"""

from hmm_live.ui.controls import EngineState, PortPicker, StatusLights, Transport
from hmm_live.ui.kernel import route_to_subshells
from hmm_live.ui.library import ClipLibraryPanel, audio_player
from hmm_live.ui.live_roll import LiveRoll
from hmm_live.ui.panel import Panel
from hmm_live.ui.roll import PianoRoll, pitch_name
from hmm_live.ui.sliders import LatentSliders
from hmm_live.ui.subspace_map import SubspaceMap
from hmm_live.ui.training import TrainingPanel

route_to_subshells()

__all__ = [
    "Panel",
    "Transport",
    "PortPicker",
    "StatusLights",
    "EngineState",
    "LiveRoll",
    "LatentSliders",
    "SubspaceMap",
    "TrainingPanel",
    "ClipLibraryPanel",
    "PianoRoll",
    "pitch_name",
    "audio_player",
]

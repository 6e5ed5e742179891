"""The live engine: ports, clock, capture, responder loop and player."""
from hmm_live.errors import PortError
from hmm_live.live.bus import Bus, Subscription
from hmm_live.live.capture import Capture
from hmm_live.live.clock import Clock
from hmm_live.live.answers import Models
from hmm_live.live.engine import Engine
from hmm_live.live.player import Player
from hmm_live.live.ports import list_inputs, list_outputs, open_input, open_output

__all__ = ["Bus", "Subscription", "Capture", "Clock", "Engine", "Models", "Player", "PortError",
           "list_inputs", "list_outputs", "open_input", "open_output"]

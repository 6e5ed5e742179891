"""The live engine: ports, clock, capture, responder loop and player.

Names load on first use (PEP 562), so importing `hmm_live.live.clock` (as the
CLI does, for its tempo range) loads neither the engine nor the models.
"""

from hmm_live.lazy import lazy_names

_LAZY = {
    "Bus": "hmm_live.live.bus",
    "Subscription": "hmm_live.live.bus",
    "Capture": "hmm_live.live.capture",
    "Clock": "hmm_live.live.clock",
    "ClockFollower": "hmm_live.live.midi_clock",
    "ClockSender": "hmm_live.live.midi_clock",
    "LinkClock": "hmm_live.live.link",
    "Engine": "hmm_live.live.engine",
    "Models": "hmm_live.live.answers",
    "Player": "hmm_live.live.player",
    "PortError": "hmm_live.errors",
    "list_inputs": "hmm_live.live.ports",
    "list_outputs": "hmm_live.live.ports",
    "open_input": "hmm_live.live.ports",
    "open_output": "hmm_live.live.ports",
}
__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

"""The live engine: ports, clock, capture, responder loop and player.

Names load on first use (PEP 562), so importing `hmm_live.live.clock` (as the
CLI does, for its tempo range) loads neither the engine nor the models.
"""

import importlib

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


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'hmm_live.live' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later uses skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

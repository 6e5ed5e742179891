"""MIDI ports through mido + python-rtmidi: pick the API, list, open by name or substring.

The API is chosen by argument, else the HMM_LIVE_MIDI_API environment
variable (alsa, jack, coremidi, windows), else rtmidi's default.
"""
from __future__ import annotations

import os
from typing import Callable

import mido

from hmm_live.errors import HmmLiveError

APIS = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK", "coremidi": "MACOSX_CORE", "windows": "WINDOWS_MM"}
IN_PORT, OUT_PORT = "hmm_live in", "hmm_live out"


class PortError(HmmLiveError):
    """A MIDI port or API is missing or cannot be opened."""


def backend(api: str | None = None) -> mido.Backend:
    """The mido backend for an API name (see APIS), checked against what rtmidi was built with."""
    import rtmidi

    api = (api or os.environ.get("HMM_LIVE_MIDI_API") or "").lower() or None
    if api is None:
        return mido.Backend("mido.backends.rtmidi", load=True)
    if api not in APIS:
        raise PortError(f"unknown MIDI API {api!r}; choose from {', '.join(APIS)}")
    if getattr(rtmidi, f"API_{APIS[api]}") not in rtmidi.get_compiled_api():
        compiled = [rtmidi.get_api_name(a) for a in rtmidi.get_compiled_api()]
        raise PortError(f"this python-rtmidi has no {api} support; it has {', '.join(compiled) or 'none'}")
    return mido.Backend(f"mido.backends.rtmidi/{APIS[api]}", load=True)


def _names(kind: str, api: str | None) -> list[str]:
    b = backend(api)
    try:
        return list(b.get_input_names() if kind == "input" else b.get_output_names())
    except Exception as e:  # rtmidi raises SystemError etc. when the MIDI server is absent
        raise PortError(f"cannot list MIDI {kind}s with the {api or 'default'} API: {e}") from None


def list_inputs(api: str | None = None) -> list[str]:
    return _names("input", api)


def list_outputs(api: str | None = None) -> list[str]:
    return _names("output", api)


def resolve(kind: str, name: str, api: str | None = None) -> str:
    """The one existing port whose name is `name` or contains it."""
    names = _names(kind, api)
    if name in names:
        return name
    found = [n for n in names if name.lower() in n.lower()]
    if len(found) == 1:
        return found[0]
    what = "matches several" if found else "matches no"
    raise PortError(f"{name!r} {what} MIDI {kind}: {', '.join(found or names) or 'there are none'}")


class PortWatcher:
    """Asks whether ports exist through two long-lived rtmidi clients.

    mido's listing opens and closes a client per call; doing that twice a
    second was seen to deadlock a JACK server (client churn), so a watcher
    keeps its own clients and only queries them, from one thread.
    """

    def __init__(self, api: str | None = None):
        import rtmidi

        backend(api)  # checks the API name
        rt_api = getattr(rtmidi, f"API_{APIS[api]}") if api else rtmidi.API_UNSPECIFIED
        try:
            self._clients = {"input": rtmidi.MidiIn(rt_api, "hmm_live watch"),
                             "output": rtmidi.MidiOut(rt_api, "hmm_live watch")}
        except Exception as e:
            raise PortError(f"cannot watch MIDI ports with the {api or 'default'} API: {e}") from None

    def exists(self, kind: str, name: str) -> bool:
        """Whether a `kind` ("input" or "output") port is named `name` or contains it."""
        names = self._clients[kind].get_ports()
        return name in names or sum(name.lower() in n.lower() for n in names) == 1

    def close(self) -> None:
        for client in self._clients.values():
            client.delete()


def open_input(name: str = IN_PORT, callback: Callable[[mido.Message], None] | None = None,
               virtual: bool = False, api: str | None = None):
    """An input port (a virtual one others can send to, or an existing one by name/substring)."""
    b = backend(api)
    try:
        if virtual:
            return b.open_input(name, virtual=True, callback=callback)
        return b.open_input(resolve("input", name, api), callback=callback)
    except PortError:
        raise
    except Exception as e:
        raise PortError(f"cannot open MIDI input {name!r}: {e}") from None


def open_output(name: str = OUT_PORT, virtual: bool = False, api: str | None = None):
    """An output port (virtual, or an existing one by name/substring)."""
    b = backend(api)
    try:
        if virtual:
            return b.open_output(name, virtual=True)
        return b.open_output(resolve("output", name, api))
    except PortError:
        raise
    except Exception as e:
        raise PortError(f"cannot open MIDI output {name!r}: {e}") from None

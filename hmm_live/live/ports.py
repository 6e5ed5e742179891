"""MIDI ports through mido + python-rtmidi: pick the API, list, open by name or substring.

The API is chosen by argument, else the HMM_LIVE_MIDI_API environment
variable (alsa, jack, coremidi, windows), else rtmidi's default.

Inputs are read by a thread of ours, never by a callback on the MIDI server's
thread: python-rtmidi's callbacks (mido's inputs always set one) take the GIL
on JACK's process thread, and a message arriving while another thread held the
GIL inside a JACK call that waits for a process cycle (opening or closing any
client or port) deadlocked the whole process.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator

import mido

from hmm_live.errors import PortError

APIS = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK", "coremidi": "MACOSX_CORE", "windows": "WINDOWS_MM"}
ALSA_SEQUENCER = "/dev/snd/seq"
IN_PORT, OUT_PORT = "hmm_live in", "hmm_live out"
log = logging.getLogger("hmm_live.live")


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
    return _pick(kind, name, _names(kind, api))


def _pick(kind: str, name: str, names: list[str]) -> str:
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

        rt_api = _rtmidi_api(api)
        try:
            self._clients = {
                "input": rtmidi.MidiIn(rt_api, "hmm_live watch"),
                "output": rtmidi.MidiOut(rt_api, "hmm_live watch"),
            }
        except Exception as e:
            raise PortError(f"cannot watch MIDI ports with the {api or 'default'} API: {e}") from None

    def exists(self, kind: str, name: str) -> bool:
        """Whether a `kind` ("input" or "output") port is named `name` or contains it."""
        names = self._clients[kind].get_ports()
        return name in names or sum(name.lower() in n.lower() for n in names) == 1

    def close(self) -> None:
        for client in self._clients.values():
            client.delete()


def unavailable(api: str | None = None) -> str | None:
    """Why this machine's MIDI system (for `api`) cannot make ports, or None when it can.

    Opens and closes one virtual port: the only test that fails the same way as
    the engine would (no ALSA sequencer device; no JACK server running)."""
    import rtmidi

    if api_name(api) == "ALSA" and not os.path.exists(ALSA_SEQUENCER):  # else alsa-lib writes to stderr
        return f"ALSA MIDI is not available: no sequencer device {ALSA_SEQUENCER} (a container, VM or server?)"
    try:
        probe = rtmidi.MidiOut(_rtmidi_api(api), "hmm_live probe")
    except PortError as e:
        return str(e)
    except Exception as e:
        return f"{api_name(api)} MIDI is not available: {str(e).strip()}"
    try:
        probe.open_virtual_port("probe")
        probe.close_port()
    except Exception as e:
        return f"{api_name(api)} MIDI is not available: {str(e).strip()}"
    finally:
        probe.delete()
    return None


def api_name(api: str | None = None) -> str:
    """The MIDI system an API name (or the default) stands for, e.g. "ALSA", "JACK"."""
    import rtmidi

    api = (api or os.environ.get("HMM_LIVE_MIDI_API") or "").lower() or None
    if api is not None:
        return {"alsa": "ALSA", "jack": "JACK", "coremidi": "CoreMIDI", "windows": "Windows MIDI"}.get(api, api)
    compiled = rtmidi.get_compiled_api()
    return rtmidi.get_api_display_name(compiled[0]) if compiled else "no"


def _rtmidi_api(api: str | None) -> int:
    """rtmidi's number for an API name (see `backend`, which checks it)."""
    import rtmidi

    api = (api or os.environ.get("HMM_LIVE_MIDI_API") or "").lower() or None
    backend(api)
    return getattr(rtmidi, f"API_{APIS[api]}") if api else rtmidi.API_UNSPECIFIED


class Input:
    """A MIDI input read every millisecond by its own thread ("hmm_live input"), see the module docstring.

    Each message goes to `callback(message, t)`, or waits for `iter_pending()`.
    Its time t (time.monotonic) comes from the MIDI server's timestamps (the
    gaps between messages), anchored by the earliest each one could have
    arrived (no message is read before it arrives), so a late poll does not
    make a late note; the anchor may creep 10 us a second to follow a server
    clock that runs slower than ours.
    """

    POLL_S = 0.001
    DRIFT = 1e-5

    def __init__(
        self,
        name: str,
        callback: Callable[[mido.Message, float], None] | None = None,
        virtual: bool = False,
        api: str | None = None,
    ):
        import rtmidi

        try:
            rt = rtmidi.MidiIn(_rtmidi_api(api), "hmm_live")
        except PortError:
            raise
        except Exception as e:  # no MIDI system: rtmidi raises SystemError from deep inside
            raise PortError(f"cannot open MIDI input {name!r} with the {api or 'default'} API: {e}") from None
        try:
            if virtual:
                rt.open_virtual_port(name)
                self.name = name
            else:
                ports = rt.get_ports()
                self.name = _pick("input", name, ports)
                rt.open_port(ports.index(self.name))
            rt.ignore_types(sysex=False, timing=False, active_sense=True)
        except PortError:
            rt.delete()
            raise
        except Exception as e:
            rt.delete()
            raise PortError(f"cannot open MIDI input {name!r}: {e}") from None
        self._rt, self._callback = rt, callback
        self._pending: collections.deque = collections.deque(maxlen=10000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hmm_live input", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        server_time, anchor, last = 0.0, float("inf"), time.monotonic()
        while not self._stop.wait(self.POLL_S):
            now = time.monotonic()
            anchor, last = anchor + self.DRIFT * (now - last), now
            while (item := self._rt.get_message()) is not None:
                data, delta = item
                server_time += delta
                anchor = min(anchor, now - server_time)
                try:
                    message = mido.Message.from_bytes(data)
                except ValueError:
                    continue
                if self._callback is None:
                    self._pending.append(message)
                    continue
                try:
                    self._callback(message, anchor + server_time)
                except Exception:  # one bad message must not deafen the port
                    log.exception("MIDI input %r: the callback failed on %s", self.name, message)

    def iter_pending(self) -> Iterator[mido.Message]:
        """The messages received so far (with no callback)."""
        while self._pending:
            yield self._pending.popleft()

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        self._rt.close_port()
        self._rt.delete()


def open_input(
    name: str = IN_PORT,
    callback: Callable[[mido.Message, float], None] | None = None,
    virtual: bool = False,
    api: str | None = None,
) -> Input:
    """An input port (a virtual one others can send to, or an existing one by name/substring)."""
    return Input(name, callback, virtual, api)


def open_output(name: str = OUT_PORT, virtual: bool = False, api: str | None = None) -> mido.ports.BaseOutput:
    """An output port (virtual, or an existing one by name/substring)."""
    b = backend(api)
    try:
        if virtual:  # named like the input's client, so JACK shows "hmm_live:hmm_live out"
            return b.open_output(name, client_name="hmm_live")
        return b.open_output(resolve("output", name, api))
    except PortError:
        raise
    except Exception as e:
        raise PortError(f"cannot open MIDI output {name!r}: {e}") from None

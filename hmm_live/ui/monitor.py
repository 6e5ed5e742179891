"""The UI thread: brings the live threads' bus streams to the widgets, throttled.

One named thread per bus ("hmm_live ui") drains the streams widgets listen to
and hands each listener what arrived since the last tick, at most `RATE` times
a second: a burst of points becomes one browser update, so the responder can
publish as fast as it likes without flooding the browser, and a slow browser
never holds up the responder.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from hmm_live.live.bus import Bus, Subscription

RATE = 20.0  # updates a second, at most, per listener
Listener = Callable[[list[Any]], None]
log = logging.getLogger("hmm_live.ui")


class Monitor:
    """Calls `listener(items)` on the UI thread with the items that arrived on a stream.

    One per bus; its thread ends by itself once no listener is left (so closing
    widgets, even from the garbage collector, never has to join a thread).
    """

    _by_bus: ClassVar[weakref.WeakKeyDictionary[Bus, Monitor]] = weakref.WeakKeyDictionary()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def listen(
        cls, bus: Bus, stream: str, listener: Listener, maxlen: int = 256, every_tick: bool = False
    ) -> Subscription:
        """Listen to a stream of the bus; close the returned subscription to stop.

        `every_tick`: call the listener on every tick, with [] when nothing arrived
        (for views that follow the clock, like a playhead)."""
        with cls._lock:
            monitor = cls._by_bus.get(bus)
            if monitor is None or monitor.closed:
                monitor = cls._by_bus[bus] = cls(bus)
            subscription = bus.subscribe(stream, maxlen)
            monitor._listeners.append((subscription, listener, every_tick))
            return subscription

    def __init__(self, bus: Bus):
        self.bus = bus
        self._listeners: list[tuple[Subscription, Listener, bool]] = []
        self.closed = False
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name="hmm_live ui", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(1.0 / RATE)
            with Monitor._lock:
                self._listeners = [entry for entry in self._listeners if not entry[0].closed]
                if not self._listeners:
                    self.closed = True
                    return
                listeners = list(self._listeners)
            for subscription, listener, every_tick in listeners:
                items = subscription.drain()
                if not items and not every_tick:
                    continue
                try:
                    listener(items)
                except Exception:  # a broken widget must not stop the others
                    self.errors += 1
                    log.exception("a UI listener on %r failed", subscription.stream)


class Listening:
    """Mixin for widgets fed from a bus: their subscriptions end when they close."""

    def listen(self, bus: Bus, stream: str, listener: Listener, every_tick: bool = False) -> None:
        if not hasattr(self, "_subscriptions"):
            self._subscriptions: list[Subscription] = []
        self._subscriptions.append(Monitor.listen(bus, stream, listener, every_tick=every_tick))

    def close(self) -> None:
        for subscription in getattr(self, "_subscriptions", ()):
            subscription.close()
        super().close()  # type: ignore[misc]  # a mixin: close is the widget class's it is mixed into

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
import weakref
from typing import Any, Callable

from hmm_live.live.bus import Bus, Subscription

RATE = 20.0  # updates a second, at most, per listener
Listener = Callable[[list[Any]], None]
log = logging.getLogger("hmm_live.ui")


class Monitor:
    """Calls `listener(items)` on the UI thread with the items that arrived on a stream."""

    _by_bus: "weakref.WeakKeyDictionary[Bus, Monitor]" = weakref.WeakKeyDictionary()
    _lock = threading.Lock()

    @classmethod
    def of(cls, bus: Bus) -> "Monitor":
        """The bus's monitor (one per bus, started on first use)."""
        with cls._lock:
            monitor = cls._by_bus.get(bus)
            if monitor is None or monitor.closed:
                monitor = cls._by_bus[bus] = cls(bus)
            return monitor

    def __init__(self, bus: Bus):
        self.bus = bus
        self._listeners: list[tuple[Subscription, Listener]] = []
        self._changed = threading.Lock()
        self._stop = threading.Event()
        self.closed = False
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name="hmm_live ui", daemon=True)
        self._thread.start()

    def on(self, stream: str, listener: Listener, maxlen: int = 256) -> Subscription:
        """Listen to a stream; close the returned subscription to stop."""
        subscription = self.bus.subscribe(stream, maxlen)
        with self._changed:
            self._listeners.append((subscription, listener))
        return subscription

    def close(self) -> None:
        """Stop the thread (joined) and every subscription."""
        self._stop.set()
        self._thread.join(1.0)
        with self._changed:
            for subscription, _ in self._listeners:
                subscription.close()
            self._listeners.clear()
        self.closed = True

    def _run(self) -> None:
        while not self._stop.wait(1.0 / RATE):
            with self._changed:
                self._listeners = [(s, f) for s, f in self._listeners if not s.closed]
                listeners = list(self._listeners)
            for subscription, listener in listeners:
                items = subscription.drain()
                if not items:
                    continue
                try:
                    listener(items)
                except Exception:  # a broken widget must not stop the others
                    self.errors += 1
                    log.exception("a UI listener on %r failed", subscription.stream)


class Listening:
    """Mixin for widgets fed from a bus: their subscriptions end when they close."""

    def listen(self, bus: Bus, stream: str, listener: Listener) -> None:
        if not hasattr(self, "_subscriptions"):
            self._subscriptions: list[Subscription] = []
        self._subscriptions.append(Monitor.of(bus).on(stream, listener))

    def close(self) -> None:
        for subscription in getattr(self, "_subscriptions", ()):
            subscription.close()
        super().close()

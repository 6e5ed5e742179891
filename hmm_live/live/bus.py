"""An in-kernel publish/subscribe bus: named streams, any number of subscribers.

Publishing never blocks: each subscriber has its own bounded queue, and a
subscriber that falls behind loses its oldest items (counted in `dropped`),
so a slow notebook cell can never stall the capture or the responder.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from typing import Any


class Subscription:
    """A subscriber's queue on one stream; iterate it or call `get`."""

    def __init__(self, bus: Bus, stream: str, maxlen: int):
        self.bus, self.stream = bus, stream
        self._items: collections.deque = collections.deque(maxlen=maxlen)
        self._ready = threading.Condition()
        self.dropped = 0
        self.closed = False

    def _put(self, item: Any) -> None:
        with self._ready:
            if len(self._items) == self._items.maxlen:
                self.dropped += 1
            self._items.append(item)
            self._ready.notify()

    def get(self, timeout: float | None = None) -> Any:
        """The next item, waiting up to `timeout` seconds; raises TimeoutError, or EOFError once closed."""
        with self._ready:
            if not self._ready.wait_for(lambda: self._items or self.closed, timeout):
                raise TimeoutError(f"nothing on {self.stream!r} within {timeout} s")
            if not self._items:
                raise EOFError(f"the subscription to {self.stream!r} is closed")
            return self._items.popleft()

    def drain(self) -> list[Any]:
        """Everything waiting, without blocking."""
        with self._ready:
            items = list(self._items)
            self._items.clear()
            return items

    def close(self) -> None:
        self.bus._remove(self)
        with self._ready:
            self.closed = True
            self._ready.notify_all()

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                yield self.get()
            except EOFError:
                return


class Bus:
    """Named streams of items (bars, points, answers, status) between live threads."""

    def __init__(self):
        self._subscribers: dict[str, list[Subscription]] = collections.defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, stream: str, maxlen: int = 64) -> Subscription:
        sub = Subscription(self, stream, maxlen)
        with self._lock:
            self._subscribers[stream].append(sub)
        return sub

    def publish(self, stream: str, item: Any) -> int:
        """Send `item` to every subscriber of `stream`; returns how many got it."""
        with self._lock:
            subscribers = list(self._subscribers.get(stream, ()))
        for sub in subscribers:
            sub._put(item)
        return len(subscribers)

    def streams(self) -> list[str]:
        with self._lock:
            return [name for name, subs in self._subscribers.items() if subs]

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subscribers.get(sub.stream, []):
                self._subscribers[sub.stream].remove(sub)

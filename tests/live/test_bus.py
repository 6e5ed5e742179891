"""The bus: fan-out to every reader, and a slow reader loses its oldest messages, never blocks."""

from __future__ import annotations

import pytest

from hmm_live.live import Bus


def test_bus_fans_out_and_drops_oldest_for_slow_readers():
    bus = Bus()
    fast, slow = bus.subscribe("bars"), bus.subscribe("bars", maxlen=2)
    assert [bus.publish("bars", i) for i in range(3)] == [2, 2, 2]
    assert fast.drain() == [0, 1, 2]
    assert slow.get(timeout=0.1) == 1
    assert slow.dropped == 1
    slow.close()
    assert bus.publish("bars", 3) == 1
    assert bus.streams() == ["bars"]
    with pytest.raises(TimeoutError):
        bus.subscribe("other").get(timeout=0.01)

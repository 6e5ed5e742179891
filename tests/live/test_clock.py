"""The internal clock: steps and bar lines from one anchor."""

from __future__ import annotations

import pytest

from hmm_live.live import Clock


def test_clock_steps_come_from_one_anchor():
    clock = Clock(120)
    clock.start(at=100.0)
    assert clock.time_of(16) == pytest.approx(102.0)
    assert clock.step_at(100.5) == pytest.approx(4.0)
    assert clock.time_of(1_000_000) == pytest.approx(100.0 + 1_000_000 * 0.125)  # no accumulated error
    with pytest.raises(Exception, match="bpm"):
        Clock(1000)


def test_the_clocks_bar_rules():
    clock = Clock(120)  # 2 s a bar, 0.125 s a step
    clock.start(at=100.0)
    assert clock.bar_time(3) == pytest.approx(106.0)
    assert clock.bar_seconds == pytest.approx(2.0)
    assert clock.bar_at(105.0) == pytest.approx(2.5)
    assert clock.next_bar(104.0) == 3
    assert clock.next_bar(105.99) == 3  # after t, even at a bar line
    # a bar closes half a step before the next bar line: an onset after that rounds into the next bar
    assert clock.close_time(2) == pytest.approx(106.0 - 0.0625)
    assert clock.open_bar(106.0 - 0.07) == 2
    assert clock.open_bar(106.0 - 0.05) == 3

"""Type checks shared by the validators of settings, model configs and saved files, which
get their values from JSON or from users: a bool is not a number, NaN is not a value."""
from __future__ import annotations

import math
import numbers


def real(v: object) -> bool:
    """A finite real number (numpy's too), not a bool."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def whole(v: object) -> bool:
    """An integer (numpy's too), not a bool."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)

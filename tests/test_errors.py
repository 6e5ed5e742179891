"""errors.py: the one place that names what hmm_live raises."""

from __future__ import annotations

import ast
from pathlib import Path

import hmm_live
from hmm_live import HmmLiveError, errors


def test_every_error_class_is_in_errors_py():
    """One place to find what hmm_live raises: errors.py, all under HmmLiveError and importable
    from hmm_live (hmm_live.testing's signals to test code excepted)."""
    package = Path(hmm_live.__file__).parent
    elsewhere = []
    for path in package.rglob("*.py"):
        if path.name == "errors.py" or "testing" in path.relative_to(package).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            bases = [ast.unparse(b) for b in getattr(node, "bases", [])]
            if isinstance(node, ast.ClassDef) and any(b.endswith(("Error", "Exception")) for b in bases):
                elsewhere.append(f"{path.relative_to(package)}: {node.name}")
    assert elsewhere == []
    family = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert all(issubclass(e, HmmLiveError) and getattr(hmm_live, e.__name__) is e for e in family)
    assert {e.__name__ for e in family} <= set(hmm_live.__all__)

"""Imports run one way, down the layers: a part of hmm_live imports only parts below it.

Function-level imports count too (they are how a cycle hides). The layers, bottom up, are
the ones docs/architecture.md draws.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hmm_live"
LAYERS = [
    {"errors", "grid", "lazy", "quiet"},
    {"limits", "files", "shipped"},
    {"music"},
    {"models"},
    {"live", "training"},
    {"session"},
    {"ui", "jam_terminal", "testing"},
    {"cli"},
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def part_of(module: str) -> str:
    return module.split(".")[1]


def imports() -> list[tuple[str, str]]:
    """(importing module, imported module) for every hmm_live import inside the package."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("hmm_live"):
                names = [f"hmm_live.{a.name}" for a in node.names] if node.module == "hmm_live" else [node.module]
                found += [(module, name) for name in names]
            elif isinstance(node, ast.Import):
                found += [(module, a.name) for a in node.names if a.name.startswith("hmm_live")]
    return found


def test_every_part_has_a_layer():
    parts = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" and p.stem != "__init__"}
    parts |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert parts == set(RANK), "a new module or subpackage needs its place in LAYERS"


def test_imports_point_down_the_layers():
    upward = [
        f"{a} imports {b}"
        for a, b in imports()
        if "." in a
        and b.count(".")
        and b.split(".")[1] in RANK
        and part_of(a) != part_of(b)
        and RANK[part_of(b)] >= RANK[part_of(a)]
    ]
    assert upward == []

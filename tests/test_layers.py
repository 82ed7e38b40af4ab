"""The layers of ecglib point down only (README, "What is here"): a metric knows no run, a
model or training step no chapter, a figure no pipeline. Checked on the import statements."""

import ast

import pytest

from ecglib.config import PROJECT_ROOT

GROUND = {"config", "paths", "schema", "errors"}
#: What each top-level part of ecglib may import besides itself.
ALLOWED: dict[str, set[str]] = {
    **{name: GROUND for name in GROUND},
    "signals": GROUND,
    "demo": GROUND | {"signals"},
    "data": GROUND | {"signals", "demo"},
    "real": GROUND | {"signals", "data"},
    "model": GROUND | {"signals"},
    "train": GROUND | {"signals", "data", "model"},
    "metrics": GROUND,
    "plots": GROUND | {"signals", "real", "model", "metrics", "report"},
    "chapters": GROUND
    | {"signals", "demo", "data", "real", "model", "train", "metrics", "plots", "report"},
    # the pipeline and the appendices' readers sit on top of everything
    "report": GROUND
    | {"signals", "demo", "data", "real", "model", "train", "metrics", "plots", "chapters"},
    "__main__": GROUND | {"demo", "report"},
    "__init__": set(),
}
#: report/ holds the pipeline, which runs the notebooks and so sits above every chapter, and
#: the small readers and formatters (present, save, manifest, corpus, benchmarks) that chapters
#: and figures use: those may not reach up to the pipeline.
PIPELINE = "ecglib.report.pipeline"


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ecglib"):
            if node.module == "ecglib":
                yield from (f"ecglib.{a.name}" for a in node.names)
            else:  # a name may be a module (from ecglib.report import pipeline)
                yield from (f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("ecglib"))


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else "__init__"


FILES = sorted((PROJECT_ROOT / "ecglib").rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_imports_point_down_the_layers(path):
    rel = path.relative_to(PROJECT_ROOT / "ecglib").with_suffix("")
    part = rel.parts[0]
    wrong = []
    for module in _imports(path):
        target = _part(module)
        if target == part:
            continue
        if target not in ALLOWED[part]:
            wrong.append(module)
        elif module.startswith(PIPELINE) and part != "__main__" and rel.name != "pipeline":
            wrong.append(module)
    assert not wrong, f"{rel} imports {wrong} from a layer above it"


def test_no_relative_imports_and_no_god_module():
    assert not (PROJECT_ROOT / "ecglib" / "evaluation.py").exists()
    assert not (PROJECT_ROOT / "ecglib" / "chapters" / "evaluation.py").exists()
    for path in FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        relative = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
        assert not relative, f"{path.name}: relative imports at lines {relative}"

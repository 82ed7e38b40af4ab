"""environment.yml (conda) must list the same dependencies as pyproject.toml (pip)."""

import tomllib
import yaml

from ecglib.config import PROJECT_ROOT


def _normalise(req: str) -> str:
    return req.replace(" ", "").lower()


def test_environment_yml_lists_the_pyproject_dependencies():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted |= set(extra)
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {_normalise(r) for r in pip if not r.startswith("-e")}
    assert listed == {_normalise(r) for r in wanted}

"""The run manifest: what a run was computed with, written to ``runs/<name>/manifest.json``.

:func:`write_manifest` records the package versions, the params (and the hash of their parsed
content), the code (git commit and whether the working tree had uncommitted changes, and a hash of
the ``ecglib`` sources), the inputs (the export table's and the column map's sha256, the ECG
store's fingerprint, the pretrained weights' sha256), the platform, CPU and GPU, and the time.

It holds no patient identifiers (the store's list of failing records is reduced to its count, the
cohort table to its hash) and no absolute path that names a user's home: paths inside the project
are written relative to its root, paths under the home folder as ``~/...``.

``git`` may be absent, or the project may not be a git checkout: the commit is then read from
``.git`` if there is one (``dirty`` unknown), else ``null``. Nothing here writes to the repository.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from ecglib.config import PROJECT_ROOT, RunParams, params_to_dict
from ecglib.paths import RunPaths

#: Distributions whose versions a result depends on (the analysis stack and the book's tools).
PACKAGES: tuple[str, ...] = (
    "ecglib",
    "numpy",
    "scipy",
    "pandas",
    "torch",
    "scikit-learn",
    "iterative-stratification",
    "wfdb",
    "neurokit2",
    "statsmodels",
    "lifelines",
    "captum",
    "matplotlib",
    "pyyaml",
    "openpyxl",
    "tqdm",
    "papermill",
    "nbformat",
    "ipykernel",
    "jupyter-book",
)
MANIFEST_VERSION = 1
_GIT_TIMEOUT_S = 10


# --------------------------------------------------------------------------------------------
# the parts
# --------------------------------------------------------------------------------------------
def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (``None`` when it is not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """``{"commit", "dirty", "source"}`` of the project's checkout.

    With the ``git`` program: ``git rev-parse HEAD`` and ``git --no-optional-locks status
    --porcelain --untracked-files=no`` (read-only: no index refresh is written), ``source:
    "git"``. Without it, or when it fails: the commit read from ``.git/HEAD`` and its ref,
    ``dirty: None``, ``source: ".git"``. Not a checkout: all ``None``.
    """
    state: dict[str, Any] = {"commit": None, "dirty": None, "source": None}
    git = shutil.which("git")
    if git and (root / ".git").exists():
        try:
            commit = _run([git, "-C", str(root), "rev-parse", "--verify", "HEAD"])
            status = _run(
                [
                    git,
                    "--no-optional-locks",
                    "-C",
                    str(root),
                    "status",
                    "--porcelain",
                    "--untracked-files=no",
                ]
            )
            return {
                "commit": commit.strip() or None,
                "dirty": bool(status.strip()),
                "source": "git",
            }
        except (OSError, subprocess.SubprocessError):
            pass
    commit = _read_head(root)
    if commit:
        state.update(commit=commit, source=".git")
    return state


def _run(command: list[str]) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=True, env=env
    )
    return result.stdout


def _read_head(root: Path) -> str | None:
    """The checked-out commit from the files of ``.git`` (a folder, or a worktree's file)."""
    try:
        gitdir = root / ".git"
        if gitdir.is_file():  # a worktree or submodule: "gitdir: <path>"
            target = gitdir.read_text().strip().removeprefix("gitdir:").strip()
            gitdir = (root / target).resolve()
        head = (gitdir / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head or None
        ref = head.removeprefix("ref:").strip()
        for base in (gitdir, _common_dir(gitdir)):
            loose = base / ref
            if loose.is_file():
                return loose.read_text().strip() or None
            packed = base / "packed-refs"
            if packed.is_file():
                for line in packed.read_text().splitlines():
                    parts = line.split()
                    if len(parts) == 2 and parts[1] == ref:
                        return parts[0]
    except OSError:
        return None
    return None


def _common_dir(gitdir: Path) -> Path:
    common = gitdir / "commondir"
    return (gitdir / common.read_text().strip()).resolve() if common.is_file() else gitdir


def hardware() -> dict[str, Any]:
    """CPU (logical cores, the cores this process may use, model), memory, and torch's view of
    the accelerators (CUDA devices with their names and memory, MPS)."""
    info: dict[str, Any] = {"cpu_count": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    info["cpu_model"] = _cpu_model()
    try:
        info["memory_gb"] = round(
            os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
        )
    except (AttributeError, ValueError, OSError):
        info["memory_gb"] = None
    try:
        import torch
    except ImportError:
        return info
    info["torch_threads"] = torch.get_num_threads()
    info["cuda_available"] = torch.cuda.is_available()
    info["cuda_version"] = torch.version.cuda
    info["cudnn_version"] = (
        torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    )
    info["gpus"] = (
        [
            {
                "name": torch.cuda.get_device_name(i),
                "memory_gb": round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1),
            }
            for i in range(torch.cuda.device_count())
        ]
        if info["cuda_available"]
        else []
    )
    mps = getattr(torch.backends, "mps", None)
    info["mps_available"] = bool(mps and mps.is_available())
    return info


def _cpu_model() -> str | None:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sources_sha256(package: Path = PROJECT_ROOT / "ecglib") -> str:
    """One hash over the ``ecglib`` sources (relative names and contents), for runs made from a
    tree with uncommitted changes or without git."""
    digest = hashlib.sha256()
    for file in sorted(package.rglob("*.py")):
        digest.update(file.relative_to(package).as_posix().encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def input_hashes(params: RunParams) -> dict[str, Any]:
    """The run's inputs: export table, column map, pretrained weights (sha256 each), the ECG
    store's fingerprint (from its ``meta.json``), the demo generator's stamp and the cohort
    table's hash, each with its path; absent ones say so."""
    paths = RunPaths.of(params)
    out: dict[str, Any] = {
        "export_table": _file_entry(params.path(params.data.table)),
        "column_map": _file_entry(params.path(params.data.map)),
    }
    if params.model.pretrained:
        out["pretrained_weights"] = _file_entry(params.path(params.model.pretrained))
    meta = paths.store / "meta.json"
    if meta.is_file():
        store = json.loads(meta.read_text())
        out["ecg_store"] = {
            "path": relative(paths.store),
            "fingerprint": store.get("fingerprint"),
            "version": store.get("version"),
            "shape": store.get("shape"),
            "settings": store.get("settings"),
            "n_failures": len(store.get("failures") or []),
        }
    else:
        out["ecg_store"] = {"path": relative(paths.store), "exists": False}
    out["cohort_table"] = _file_entry(paths.cohort)
    if params.demo is not None:
        out_dir = params.path(params.demo.out_dir)
        stamp = out_dir.with_name(out_dir.name + ".demo.json")
        out["demo_export"] = {
            "path": relative(out_dir),
            "stamp": json.loads(stamp.read_text()) if stamp.is_file() else None,
        }
    return out


def _file_entry(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"path": relative(path), "exists": False}
    return {"path": relative(path), "sha256": file_sha256(path), "bytes": path.stat().st_size}


def relative(path: str | os.PathLike) -> str:
    """A path as the manifest writes it: relative to the project root when inside it, ``~/...``
    under the home folder, else as it is."""
    path = Path(path)
    try:
        resolved = path.resolve()
    except OSError:
        resolved = path
    for candidate in (path, resolved):
        if candidate.is_absolute() and candidate.is_relative_to(PROJECT_ROOT):
            return candidate.relative_to(PROJECT_ROOT).as_posix() or "."
    home = Path.home()
    for candidate in (path, resolved):
        if (
            str(home) not in ("", "/")
            and candidate.is_absolute()
            and candidate.is_relative_to(home)
        ):
            return "~/" + candidate.relative_to(home).as_posix()
    return path.as_posix()


def _scrub(value: Any) -> Any:
    """Every string with the project root or the home folder in it rewritten by :func:`relative`'s
    rules (params may hold absolute paths, e.g. ``runs_dir``)."""
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        root, home = str(PROJECT_ROOT), str(Path.home())
        value = value.replace(root + os.sep, "").replace(root, ".")
        if home not in ("", "/"):
            value = value.replace(home, "~")
    return value


# --------------------------------------------------------------------------------------------
# the manifest
# --------------------------------------------------------------------------------------------
def build_manifest(params: RunParams) -> dict[str, Any]:
    """The manifest of a run as a JSON-ready dict (see the module docstring)."""
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "run": params.name,
        "params_file": relative(params.source) if params.source else None,
        "params_sha256": params.sha256 or None,
        "params": params_to_dict(params),
        "code": {**git_state(), "ecglib_sources_sha256": sources_sha256()},
        "packages": package_versions(),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": relative(sys.executable),
        },
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "platform": platform.platform(),
        },
        "hardware": hardware(),
        "inputs": input_hashes(params),
    }
    return _scrub(manifest)


def write_manifest(params: RunParams) -> Path:
    """Write ``runs/<name>/manifest.json`` (atomically) and return its path."""
    path = RunPaths.of(params).manifest
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(
        json.dumps(build_manifest(params), indent=1, default=str) + "\n", encoding="utf-8"
    )
    os.replace(tmp, path)
    return path


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def manifest_tables(manifest: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The manifest as the appendix shows it: ``run``, ``inputs``, ``packages``, ``hardware``,
    ``params`` (dotted keys)."""
    code = manifest.get("code", {})
    dirty = code.get("dirty")
    run = {
        "run": manifest.get("run"),
        "written (UTC)": manifest.get("created_utc"),
        "params file": manifest.get("params_file"),
        "params sha256": manifest.get("params_sha256"),
        "git commit": code.get("commit") or "unknown (no git)",
        "uncommitted changes": "unknown" if dirty is None else ("yes" if dirty else "no"),
        "ecglib sources sha256": code.get("ecglib_sources_sha256"),
        "python": f"{manifest['python']['version']} ({manifest['python']['implementation']})",
        "platform": manifest.get("platform", {}).get("platform"),
    }
    inputs = []
    for name, entry in manifest.get("inputs", {}).items():
        if not isinstance(entry, dict):
            continue
        ident = entry.get("sha256") or entry.get("fingerprint") or ""
        if entry.get("exists") is False:
            ident = "(absent)"
        detail = {
            k: v for k, v in entry.items() if k not in ("path", "sha256", "fingerprint", "exists")
        }
        inputs.append(
            {
                "input": name,
                "path": entry.get("path"),
                "sha256 / fingerprint": ident,
                "detail": _text(detail),
            }
        )
    hw = dict(manifest.get("hardware", {}))
    return {
        "run": _key_values(run, "item"),
        "inputs": pd.DataFrame(inputs, columns=["input", "path", "sha256 / fingerprint", "detail"]),
        "packages": pd.DataFrame(
            [
                {"package": k, "version": v if v is not None else "(not installed)"}
                for k, v in manifest.get("packages", {}).items()
            ]
        ),
        "hardware": _key_values(hw, "item"),
        "params": _key_values(_flatten(manifest.get("params", {})), "key"),
    }


def _key_values(mapping: dict[str, Any], key: str) -> pd.DataFrame:
    return pd.DataFrame({key: list(mapping), "value": [_text(v) for v in mapping.values()]})


def _text(value: Any) -> str:
    """A value as a reader reads it: a mapping as ``key: value; ...``, a list as ``a, b``
    (never Python's or JSON's repr), nothing for None."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(map(_text, value))
    return "" if value is None else str(value)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}

"""Run folders and files that are never half-written and never overwritten.

* :func:`make_run_dir` creates ``<experiment_dir>/<name>`` exclusively; if that exists (an earlier
  run, or a concurrent worker) it takes ``<name>_2``, ``<name>_3``, ... instead.
* :func:`atomic_write_text` writes to a temporary file in the same folder and renames it into
  place, so a killed process leaves either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import toml


def make_run_dir(experiment_dir, name: str) -> Path:
    experiment_dir = Path(experiment_dir)
    experiment_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 10_000):
        candidate = experiment_dir / (name if attempt == 1 else f"{name}_{attempt}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"no free run folder for {name} in {experiment_dir}")  # pragma: no cover


def atomic_write_text(path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_toml(path, data: dict) -> Path:
    return atomic_write_text(path, toml.dumps(data))


def read_toml(path) -> dict:
    return toml.loads(Path(path).read_text(encoding="utf-8"))

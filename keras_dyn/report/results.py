"""Reading finished runs back: the report works from results files, never from live models."""

from __future__ import annotations

from pathlib import Path

from keras_dyn.runfiles import read_toml


def load_results(path) -> list[dict]:
    """Results of every finished run under ``path`` (an experiment folder or a run folder).

    Each dict is a run's ``results.toml`` plus ``run_dir`` (str). Runs without a results file
    (still running, or killed) are skipped.
    """
    path = Path(path)
    files = [path / "results.toml"] if (path / "results.toml").is_file() else sorted(
        path.glob("*/results.toml"))
    out = []
    for file in files:
        data = read_toml(file)
        data["run_dir"] = str(file.parent)
        out.append(data)
    return out


def records_to_results(records) -> list[dict]:
    """Turn :class:`keras_dyn.train.RunRecord` objects into the same dicts as :func:`load_results`."""
    return [dict(record.results, run_dir=str(record.run_dir)) for record in records]


def point_key(result: dict) -> tuple:
    """A hashable key for the grid point a run belongs to."""
    point = result["run"].get("point", {})
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in point.items()))


def group_by_point(results: list[dict]) -> dict[tuple, list[dict]]:
    """Runs grouped by grid point (seeds together), in first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for result in results:
        groups.setdefault(point_key(result), []).append(result)
    return groups


def matches(result: dict, selector: dict) -> bool:
    """True if the run's grid point has every key/value of ``selector``."""
    point = result["run"].get("point", {})
    return all(point.get(k) == v for k, v in selector.items())

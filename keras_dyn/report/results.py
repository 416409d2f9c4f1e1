"""Reading finished runs back: the report works from results files, never from live models."""

from __future__ import annotations

from pathlib import Path

from keras_dyn.runs.files import read_toml


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
    """Turn :class:`keras_dyn.runs.experiment.RunRecord` objects into the same dicts as :func:`load_results`."""
    return [dict(record.results, run_dir=str(record.run_dir)) for record in records]

"""A lab's committed results: every run's config and results in one compressed file beside its
LOG.md (``labs/<lab>/results.json.gz``), so ``--report-only`` rebuilds the findings on a fresh
clone without training.

A full lab run writes the file after its findings; ``--report-only`` (and
:meth:`keras_dyn.api.Lab.findings`) read it when the log folder holds no finished runs of the
plan. Each archived run keeps its folder name, the resolved ``config.toml`` text it ran with and
its ``results.toml`` (every value as the file holds it: floats round-trip exactly); a run is
taken from the archive only when that config is the plan's
(:func:`keras_dyn.config.same_run_config`, so keys a later version added with defaults that keep
the old behaviour still match). The file is gzip-compressed JSON (NaN and infinities kept)
written without a timestamp, so the same runs give the same bytes.

Compact, and still exact for the findings:

- the per-step tables that dwarf everything else (:data:`BULKY`: every step's gradient norm per
  layer, the per-epoch gradient histograms) are kept only when the lab's findings name a metric
  or figure that reads them; the archive lists what it left out (``dropped``), and a finding that
  needs it says so instead of guessing. Where only the ``grad_global_norm*`` metrics read the
  per-step norms, each step keeps just its whole-gradient norm (:func:`keras_dyn.step_norms.global_step_norms`, one
  pseudo-layer ``"global"``; ``sqrt(x²) == x`` exactly in IEEE arithmetic, so the metrics read the
  same numbers) and the archive says so (``reduced``);
- a list of 16 or more floats that float32 holds exactly (what TensorFlow measured in float32)
  is stored as its float32 bytes (``{"__f32__": base64}``) and read back bit for bit.

Example:
    >>> write_archive("labs/exp2_epochs_vs_width/results.json.gz", cfg, records)  # doctest: +SKIP
    >>> records = archived_records(cfg, "labs/exp2_epochs_vs_width/results.json.gz")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

from keras_dyn.config import same_run_config
from keras_dyn.errors import KerasDynError
from keras_dyn.runs.files import CONFIG_FILE, RESULTS_FILE, atomic_write_text, read_toml
from keras_dyn.step_norms import GLOBAL, global_step_norms

ARCHIVE_FILE = "results.json.gz"
FORMAT = 1
# (section, key) of a results file -> the metric and figure names whose findings read it
BULKY = {("gradients", "step_norms"): ("grad_global_norm", "step_norms"),
         ("gradients", "loghist"): ("gradient_histograms",)}


def kept_bulky(cfg) -> set:
    """The :data:`BULKY` tables the lab's findings read (a name of theirs appears in ``[lab]``)."""
    text = repr(cfg.lab)
    return {key for key, names in BULKY.items() if any(name in text for name in names)}


F32 = "__f32__"


def _pack(obj):
    """Lists of >= 16 floats that float32 holds exactly become their float32 bytes."""
    if isinstance(obj, dict):
        return {k: _pack(v) for k, v in obj.items()}
    if isinstance(obj, list):
        if len(obj) >= 16 and all(type(v) is float for v in obj):
            import numpy as np

            arr = np.asarray(obj, dtype=np.float64)
            f32 = arr.astype(np.float32)
            same = (f32.astype(np.float64) == arr) | (np.isnan(arr) & np.isnan(f32))
            if same.all():
                return {F32: base64.b64encode(f32.astype("<f4").tobytes()).decode("ascii")}
        return [_pack(v) for v in obj]
    return obj


def _unpack(obj):
    if isinstance(obj, dict):
        if len(obj) == 1 and F32 in obj:
            import numpy as np

            return np.frombuffer(base64.b64decode(obj[F32]), dtype="<f4").astype(np.float64).tolist()
        return {k: _unpack(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unpack(v) for v in obj]
    return obj


def write_archive(path, cfg, records) -> Path:
    """Write the finished runs ``records`` (:class:`keras_dyn.runs.experiment.RunRecord`, each
    run folder holding its ``config.toml`` and ``results.toml``) of the lab ``cfg`` to the
    archive ``path``, atomically."""
    keep = kept_bulky(cfg)
    only_global = "step_norms" not in repr(cfg.lab)  # no figure of every layer's step norms
    runs, dropped, reduced = [], set(), set()
    for record in records:
        run_dir = Path(record.run_dir)
        results = read_toml(run_dir / RESULTS_FILE)
        for section, key in BULKY:
            table = results.get(section)
            if not (isinstance(table, dict) and key in table):
                continue
            if (section, key) not in keep:
                del table[key]
                dropped.add(f"{section}.{key}")
            elif key == "step_norms" and only_global and table[key]:
                table[key] = {GLOBAL: global_step_norms(table[key])}
                reduced.add(f"{section}.{key}")
        runs.append({"folder": run_dir.name, "config": (run_dir / CONFIG_FILE).read_text(encoding="utf-8"),
                     "results": _pack(results)})
    text = json.dumps({"format": FORMAT, "experiment": cfg.name, "dropped": sorted(dropped),
                       "reduced": sorted(reduced), "runs": runs}, separators=(",", ":"),
                      default=str)  # a TOML date, should a results file hold one
    return atomic_write_text(path, gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


def read_archive(path) -> list[dict]:
    """The archived runs of ``path``: dicts with ``folder``, ``config`` (text) and ``results``.

    Raises:
        KerasDynError: the file is not a results archive this version reads (one line).
    """
    path = Path(path)
    try:
        data = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise KerasDynError(f"{path}: not a readable results archive ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("runs"), list):
        raise KerasDynError(f"{path}: format {data.get('format')!r} is not a results archive of "
                            f"format {FORMAT}")
    return _unpack(data["runs"])


def archived_records(cfg, path, logdir="modellogs") -> list:
    """The plan's runs (``cfg`` already prepared) from the archive ``path``, in plan order, each
    a :class:`RunRecord` whose ``run_dir`` is where the run lived (``<logdir>/<experiment>/<folder>``;
    it need not exist).

    Raises:
        KerasDynError: some planned runs are not in the archive with the plan's config (one line).
    """
    from keras_dyn.runs.experiment import RunRecord

    runs = read_archive(path)
    records, missing = [], []
    for point, seed in ((p, s) for p in cfg.points() for s in cfg.training.seeds):
        name = cfg.run_name(point, seed)
        text = cfg.at_point(point, seed=seed).to_toml()
        pattern = re.compile(re.escape(name) + r"(?:_(\d+))?")
        found = [run for run in runs if pattern.fullmatch(str(run.get("folder", "")))
                 and same_run_config(run.get("config"), text)]
        if not found:
            missing.append(name)
            continue
        run = max(found, key=lambda r: int(pattern.fullmatch(r["folder"]).group(1) or 1))
        records.append(RunRecord(Path(logdir) / cfg.name / run["folder"], run["results"]))
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise KerasDynError(f"report-only: {len(missing)} of {len(missing) + len(records)} planned "
                            f"run(s) of {cfg.name} are neither in the log folder nor in {path} "
                            f"({shown}); run the lab without --report-only to train them")
    return records

"""What a full run of each shipped lab leaves in modellogs/, estimated without running it whole.

Run by hand (not part of the tests)::

    KERAS_DYN_DATA=/work/shared/datasets nice -n 10 python benchmarks/log_size.py [LAB ...]
    python benchmarks/log_size.py --epochs 5,10 exp15_synthetic_depth   # labs with log.every > 1

For every distinct kind of run in a lab's plan (same model shape, batch size, data, [log] and
[probes], NumPy twin or not) one run is trained, on the full data, for E1 and for E2 epochs
(default 1 and 2); the bytes it leaves (TensorBoard events, config.toml, results.toml) give a
cost per epoch P = (B2 - B1) / (E2 - E1) and a fixed cost F = B1 - E1 * P. The lab's estimate is
the sum over its whole plan (every grid point and seed) of F + epochs * P. Epochs E1 < E2 should
both be recorded by every diagnostic of the lab (``log.every``, ``probes.shift_every``), or the
cost per epoch comes out high (an upper bound). The target: every lab at most ~40 MB
(``tests/test_log_size.py`` checks a tiny run against the same budget).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keras_dyn.quiet import quiet_tensorflow  # noqa: E402


def tree_bytes(path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def estimate(cfg, epochs, scratch, data_cache) -> tuple[int, int, int]:
    """(bytes, run-epochs, kinds of run) of ``cfg``'s full plan."""
    from keras_dyn.data import load_dataset
    from keras_dyn.runs.fit import train_run

    kinds, total, run_epochs = {}, 0, 0
    for point in cfg.points():
        for seed in cfg.training.seeds:
            run = cfg.at_point(point, seed)
            twin = run.probes.numpy_twin and (not run.probes.numpy_twin_seeds
                                              or seed in run.probes.numpy_twin_seeds)
            key = (tuple(run.model.hidden), run.model.dtype, run.model.output,
                   run.training.batch_size, repr(run.data), repr(run.log), repr(run.probes), twin)
            if key not in kinds:
                data = data_cache.get(repr(run.data))
                if data is None:
                    data = data_cache[repr(run.data)] = load_dataset(run.data)
                sizes = []
                for e in epochs:
                    run_dir = Path(scratch) / f"k{len(kinds)}_e{e}"
                    train_run(run.replace(training={"epochs": e, "seeds": [seed]}), data, run_dir,
                              verbose=False, root=scratch)
                    sizes.append(tree_bytes(run_dir))
                    shutil.rmtree(run_dir)
                per_epoch = (sizes[1] - sizes[0]) / (epochs[1] - epochs[0])
                kinds[key] = (sizes[0] - epochs[0] * per_epoch, per_epoch)
            fixed, per_epoch = kinds[key]
            total += fixed + run.training.epochs * per_epoch
            run_epochs += run.training.epochs
    return int(total), run_epochs, len(kinds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="lab names (default: every lab in configs/)")
    parser.add_argument("--epochs", default="1,2", help="E1,E2 (default 1,2)")
    args = parser.parse_args(argv)
    epochs = tuple(int(x) for x in args.epochs.split(","))
    quiet_tensorflow()
    from keras_dyn.catalogue import configs_root
    from keras_dyn.config import load_config

    data_cache = {}
    for path in sorted(configs_root().glob("*.toml")):
        cfg = load_config(path)
        if args.labs and cfg.experiment.name not in args.labs:
            continue
        started = time.time()
        with tempfile.TemporaryDirectory() as scratch:
            total, run_epochs, kinds = estimate(cfg, epochs, scratch, data_cache)
        print(f"{cfg.experiment.name:28s} {total / 1e6:8.2f} MB  {run_epochs:5d} run-epochs  "
              f"{total / run_epochs:9.0f} B/run-epoch  {kinds} kind(s) of run  "
              f"({time.time() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

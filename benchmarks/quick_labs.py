"""What every lab's ``--quick`` costs: CPU seconds per lab, against the 60-second target.

Runs ``python -m labs.NAME --quick`` for each lab of the catalogue (or the ones named), one after
another in a fresh process with a temporary log folder, and prints each run's CPU seconds (user +
system of the child, as ``resource.getrusage(RUSAGE_CHILDREN)`` counts them), its wall seconds and
its quick plan (runs x epochs x training examples), then the ratio of the largest CPU time to the
target. CPU seconds, not wall seconds, are the measure: on a shared two-core machine the wall time
depends on what else runs. A target is read from this output; no test asserts a time.

Usage::

    python benchmarks/quick_labs.py                  # every lab
    python benchmarks/quick_labs.py exp2_epochs_vs_width exp10_optimizers

Needs the data sets (``KERAS_DYN_DATA``).

Measured 2026-12-03 on the 2-core development machine (CPU only, nothing else running), at the
commit after 0ed6f99 (``python benchmarks/quick_labs.py``)::

    lab                               plan (runs x epochs x examples)    CPU s   wall s  exit
    exp1_width_grid                                     8 x 2 x 1,000     34.2     33.3  0
    exp2_epochs_vs_width                                6 x 2 x 1,000     25.4     23.6  0
    exp3_depth                                          8 x 2 x 1,000     33.4     31.3  0
    exp4_extended_width                                 6 x 2 x 1,000     32.5     31.6  0
    exp5_batch_size                                     8 x 2 x 1,000     36.5     34.2  0
    exp6_activations_optimizers                         8 x 2 x 1,000     29.2     29.3  0
    exp6_extended                                       8 x 2 x 1,000     29.7     29.5  0
    exp6_lr_schedules                                   8 x 2 x 1,000     31.3     32.4  0
    exp7_gradient_baseline                              2 x 2 x 1,000     17.9     17.1  0
    exp8_depth_scaling                                  8 x 2 x 1,000     46.9     45.1  0
    exp9_initializers                                   8 x 2 x 1,000     58.2     58.4  0
    exp10_optimizers                                    6 x 2 x 1,000     40.9     41.5  0
    exp11_label_noise                                   6 x 2 x 1,000     35.8     37.2  0
    exp12_representation_drift                          4 x 2 x 1,000     31.7     31.1  0
    exp13_width_memorisation                            8 x 2 x 1,000     31.8     31.5  0
    exp14_dataset_shift                                 4 x 2 x 1,000     39.4     39.2  0
    exp15_rebaseline                                    8 x 2 x 1,000     46.2     48.5  0
    exp15_synthetic_depth                               8 x 2 x 1,000     40.3     40.2  0
    exp16_random_labels                                 8 x 2 x 1,000     29.5     30.4  0
    largest: 58.2 CPU s = 0.97 x the 60 s target; 19 lab(s), 2 core(s)
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_CPU_SECONDS = 60.0


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def plan_of(name: str) -> str:
    from keras_dyn.catalogue import find_lab
    from keras_dyn.config import load_config
    from keras_dyn.config.quick import plan_size, quick_version

    size = plan_size(quick_version(load_config(find_lab(name).config_path)))
    return f"{size['runs']} x {size['epochs']} x {size['examples']:,}"


def measure(name: str, logdir: Path) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, exit status) of one quick lab."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    cpu0, wall0 = child_cpu(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", f"labs.{name}", "--quick", "--logdir", str(logdir)],
                          cwd=REPO, env=env, capture_output=True, text=True)
    return child_cpu() - cpu0, time.perf_counter() - wall0, proc.returncode


def main(argv=None) -> int:
    from keras_dyn.catalogue import list_labs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="lab names (default: every lab)")
    args = parser.parse_args(argv)
    names = args.labs or [lab.name for lab in list_labs()]
    print(f"{'lab':32} {'plan (runs x epochs x examples)':>32} {'CPU s':>8} {'wall s':>8}  exit")
    worst = 0.0
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            cpu, wall, status = measure(name, Path(tmp) / name)
            worst = max(worst, cpu)
            if status:
                failed.append(name)
            print(f"{name:32} {plan_of(name):>32} {cpu:8.1f} {wall:8.1f}  {status}", flush=True)
    print(f"largest: {worst:.1f} CPU s = {worst / TARGET_CPU_SECONDS:.2f} x the {TARGET_CPU_SECONDS:.0f} s "
          f"target; {len(names)} lab(s), {os.cpu_count()} core(s)")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Finished work is reused, nothing escapes the log folder, a refusing file system or a damaged
data file is one line with nothing half-written, a grid needs a validation split. Tiny
synthetic data (the `tiny` config of conftest.py: 2 seeds, 2 epochs), in-process."""

import datetime as real_datetime
import errno
import os

import numpy as np
import pytest

from keras_dyn.runs import files as runfiles
from keras_dyn.__main__ import main
from keras_dyn.config import load_config
from keras_dyn.errors import ConfigError, KerasDynError, OutputError
from keras_dyn.runs.experiment import run_experiment

NAMES = ["w8-8_bs32_s0", "w8-8_bs32_s1"]


def results_stamps(experiment_dir):
    return {p.parent.name: p.stat().st_mtime_ns for p in experiment_dir.glob("*/results.toml")}


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def cfg(tiny_config):
    return load_config(tiny_config).replace(log={"gradients": False, "activations": False,
                                                 "weights": False}, training={"epochs": 1})


@pytest.fixture
def tiny_file(cfg, tmp_path):
    """The same light config as a file, for the command line."""
    path = tmp_path / "tiny.toml"
    path.write_text(cfg.to_toml())
    return path


# --------------------------------------------------------------------------- reuse, restart, report


def test_same_command_again_reuses_finished_runs_and_trains_nothing(cfg, tmp_path, capsys):
    logdir = tmp_path / "logs"
    first = run_experiment(cfg, logdir)
    stamps = results_stamps(logdir / "tiny")
    assert sorted(stamps) == NAMES
    capsys.readouterr()
    again = run_experiment(cfg, logdir)
    err = capsys.readouterr().err
    assert results_stamps(logdir / "tiny") == stamps  # nothing retrained
    assert err.count("finished earlier: results reused") == 2 and "epoch 1/" not in err
    assert [r.run_dir for r in again] == [r.run_dir for r in first]
    assert again[0].results["final"] == first[0].results["final"]


def test_a_killed_attempt_is_cleared_and_trained_again_in_the_same_folder(cfg, tmp_path, capsys):
    logdir = tmp_path / "logs"
    run_experiment(cfg.replace(training={"seeds": [0]}), logdir, verbose=False)
    # the run of seed 1 was killed half-way: its config and some event files, no results
    run_cfg = cfg.at_point({}, seed=1)
    killed = logdir / "tiny" / NAMES[1]
    (killed / "train").mkdir(parents=True)
    (killed / "config.toml").write_text(run_cfg.to_toml())
    (killed / "train" / "events.out.tfevents.partial").write_text("torn")
    stamps = results_stamps(logdir / "tiny")
    records = run_experiment(cfg, logdir)
    err = capsys.readouterr().err
    assert [r.run_dir.name for r in records] == NAMES  # no _2 folder
    assert not (killed / "train" / "events.out.tfevents.partial").exists()
    assert (killed / "results.toml").is_file() and "was cleared" in err
    assert results_stamps(logdir / "tiny")[NAMES[0]] == stamps[NAMES[0]]


def test_restart_trains_into_new_folders_and_deletes_nothing(cfg, tmp_path):
    logdir = tmp_path / "logs"
    run_experiment(cfg, logdir, verbose=False)
    stamps = results_stamps(logdir / "tiny")
    records = run_experiment(cfg, logdir, verbose=False, restart=True)
    assert [r.run_dir.name for r in records] == [n + "_2" for n in NAMES]
    after = results_stamps(logdir / "tiny")
    assert {k: after[k] for k in stamps} == stamps and len(after) == 4
    # the same command without --restart reuses the newest finished folder of each run
    assert [r.run_dir.name for r in run_experiment(cfg, logdir, verbose=False)] == [n + "_2" for n in NAMES]


def test_report_only_trains_nothing_and_names_the_missing_runs(cfg, tmp_path, capsys):
    logdir = tmp_path / "logs"
    with pytest.raises(KerasDynError) as info:
        run_experiment(cfg, logdir, report_only=True)
    assert "2 of 2 planned run(s)" in str(info.value) and "\n" not in str(info.value)
    assert not logdir.exists()
    run_experiment(cfg.replace(training={"seeds": [0]}), logdir, verbose=False)
    with pytest.raises(KerasDynError, match=r"1 of 2 planned run\(s\) .*w8-8_bs32_s1"):
        run_experiment(cfg, logdir, report_only=True)
    run_experiment(cfg, logdir, verbose=False)
    stamps = results_stamps(logdir / "tiny")
    records = run_experiment(cfg, logdir, report_only=True)
    assert [r.run_dir.name for r in records] == NAMES and results_stamps(logdir / "tiny") == stamps


def test_cli_report_only_rebuilds_findings_and_restart_excludes_it(tiny_file, tmp_path, capsys):
    tiny_config = tiny_file
    logdir = tmp_path / "logs"
    assert main(["run", str(tiny_config), "--logdir", str(logdir), "--report-only"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("report-only: 2 of 2 planned run(s) of tiny") and "\n" not in line
    assert main(["run", str(tiny_config), "--logdir", str(logdir)]) == 0
    stamps = results_stamps(logdir / "tiny")
    capsys.readouterr()
    assert main(["run", str(tiny_config), "--logdir", str(logdir), "--report-only"]) == 0
    assert "findings:" in capsys.readouterr().err
    assert results_stamps(logdir / "tiny") == stamps
    assert len(list((logdir / "tiny").glob("FINDINGS-*.md"))) == 2
    with pytest.raises(SystemExit) as info:
        main(["run", str(tiny_config), "--restart", "--report-only"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("usage error:") and "\n" not in err


# --------------------------------------------------------------------------- findings


class _FrozenDatetime(real_datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2026, 1, 2, 3, 4, 5)


def test_findings_in_the_same_second_get_distinct_names(cfg, tmp_path, monkeypatch):
    from keras_dyn.report import output as lab
    from keras_dyn.report.results import records_to_results

    logdir = tmp_path / "logs"
    results = records_to_results(run_experiment(cfg, logdir, verbose=False))
    monkeypatch.setattr(lab._dt, "datetime", _FrozenDatetime)
    outs = [lab.write_findings(cfg, results, logdir)[0] for _ in range(3)]
    assert [o.name for o in outs] == ["FINDINGS-20260102-030405.md", "FINDINGS-20260102-030405-2.md",
                                      "FINDINGS-20260102-030405-3.md"]
    for out, suffix in zip(outs, ["", "-2", "-3"]):
        assert f"figures-20260102-030405{suffix}/" in out.read_text()
        assert (logdir / "tiny" / f"figures-20260102-030405{suffix}").is_dir()


def test_findings_that_fail_after_training_keep_the_runs_and_leave_no_partial_findings(cfg, tmp_path,
                                                                                      monkeypatch):
    from keras_dyn.report import output as lab
    from keras_dyn.report import findings as engine
    from keras_dyn.report.results import records_to_results

    logdir = tmp_path / "logs"
    results = records_to_results(run_experiment(cfg, logdir, verbose=False))

    def broken(cfg, results, fig_dir, prefix, **kwargs):
        (fig_dir / "half.png").write_bytes(b"x")
        raise KeyError("metric 'test_acc'")

    monkeypatch.setattr(engine, "build_findings", broken)
    with pytest.raises(KerasDynError) as info:
        lab.write_findings(cfg, results, logdir)
    message = str(info.value)
    assert "\n" not in message and "KeyError" in message and "--report-only" in message
    assert sorted(p.name for p in (logdir / "tiny").iterdir() if not p.name.startswith(".")) == NAMES


# --------------------------------------------------------------------------- the log folder


def test_experiment_folder_linked_out_of_the_log_folder_is_refused(cfg, tmp_path):
    logdir, outside = tmp_path / "logs", tmp_path / "outside"
    logdir.mkdir()
    outside.mkdir()
    (logdir / "tiny").symlink_to(outside)
    with pytest.raises(OutputError, match="outside"):
        run_experiment(cfg, logdir, verbose=False)
    assert files_under(outside) == []


def test_cli_escaping_name_is_refused_before_anything_is_written(tmp_path, tiny_config, capsys):
    escape = tmp_path / "escape.toml"
    escape.write_text(tiny_config.read_text().replace('name = "tiny"', 'name = "../../../../escape"'))
    logdir = tmp_path / "a" / "b" / "logs"
    assert main(["run", str(escape), "--logdir", str(logdir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"config error: {escape}: experiment.name:") and "\n" not in err
    assert files_under(tmp_path) == ["escape.toml", "tiny.toml"]


def test_log_folder_that_is_a_file_is_one_line(tiny_file, tmp_path, capsys):
    tiny_config = tiny_file
    (tmp_path / "logs").write_text("not a folder")
    assert main(["run", str(tiny_config), "--logdir", str(tmp_path / "logs")]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(("output error", "Traceback"))]
    assert len(lines) == 1 and lines[0].startswith("output error: cannot create folder")


def test_read_only_log_folder_is_one_line_and_nothing_is_written(tiny_file, tmp_path, capsys,
                                                                  monkeypatch):
    logdir = tmp_path / "logs"
    real_mkdir = os.mkdir

    def read_only(path, *args, **kwargs):
        if str(path).startswith(str(logdir)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", read_only)
    assert main(["run", str(tiny_file), "--logdir", str(logdir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("output error: cannot create folder") and "Read-only file system" in err
    assert "writable --logdir" in err and not logdir.exists()


def test_full_disk_at_the_results_file_is_one_line_and_removes_the_run(tiny_file, tmp_path, capsys,
                                                                      monkeypatch):
    tiny_config, code = tiny_file, errno.ENOSPC
    real = runfiles.atomic_write_text

    def refuse_results(path, text, **kwargs):
        if str(path).endswith("results.toml"):
            raise runfiles.output_error(OSError(code, os.strerror(code)), path, "cannot write")
        return real(path, text, **kwargs)

    monkeypatch.setattr(runfiles, "atomic_write_text", refuse_results)
    import keras_dyn.runs.fit

    monkeypatch.setattr(keras_dyn.runs.fit, "atomic_write_toml",
                        lambda path, data, **kw: refuse_results(path, "", **kw))
    logdir = tmp_path / "logs"
    assert main(["run", str(tiny_config), "--logdir", str(logdir)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[run")]
    problem = [line for line in err if "error" in line.lower()]
    assert len(problem) == 1 and problem[0].startswith("output error: cannot write in")
    assert os.strerror(code) in problem[0] and "Traceback" not in "\n".join(err)
    assert [p.name for p in (logdir / "tiny").iterdir() if not p.name.startswith(".")] == []
    monkeypatch.undo()
    assert main(["run", str(tiny_config), "--logdir", str(logdir)]) == 0  # and it can go on
    assert sorted(results_stamps(logdir / "tiny")) == NAMES


# --------------------------------------------------------------------------- data files


def test_damaged_data_files_are_one_line_and_nothing_is_written(tmp_path, capsys):
    from tests.test_data import write_fashion, write_npz

    data = tmp_path / "data"
    write_npz(data)
    npz = data / "mnist.npz"
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])  # truncated
    write_fashion(data / "fashion-mnist")
    gz = data / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:300])  # truncated gzip
    logdir = tmp_path / "logs"
    for dataset, damaged in (("mnist", npz), ("fashion_mnist", gz)):
        config = tmp_path / f"{dataset}.toml"
        config.write_text(f'[data]\ndataset = "{dataset}"\n[model]\nhidden = [4]\n[training]\nepochs = 1\n')
        assert main(["run", str(config), "--logdir", str(logdir), "--data-dir", str(data), "--quick"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"data error: {damaged}: damaged file") and "\n" not in err
    assert not logdir.exists()


def test_garbled_npz_member_is_one_line(tmp_path):
    from keras_dyn.data.datasets import load_raw
    from keras_dyn.errors import DataError
    from tests.test_data import write_npz

    write_npz(tmp_path)
    raw = bytearray((tmp_path / "mnist.npz").read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 64] = bytes(64)  # garbled data inside a member
    (tmp_path / "mnist.npz").write_bytes(bytes(raw))
    with pytest.raises(DataError) as info:
        load_raw("mnist", data_dir=tmp_path)
    assert "\n" not in str(info.value) and str(tmp_path / "mnist.npz") in str(info.value)


# --------------------------------------------------------------------------- grids


def test_grid_without_validation_split_is_refused_before_anything_is_written(tmp_path, tiny_config, capsys):
    from keras_dyn.tuning import run_grid

    cfg = load_config(tiny_config).replace(data={"validation_split": 0.0}, grid={"units": [4, 8]})
    with pytest.raises(ConfigError, match="data.validation_split: is 0, but a keras-tuner grid"):
        run_grid(cfg, tmp_path / "logs", verbose=False)
    assert not (tmp_path / "logs").exists()
    config = tmp_path / "noval.toml"
    config.write_text(cfg.replace(experiment={"name": "noval"}).to_toml())
    assert main(["check", str(config)]) == 0
    assert "note: data.validation_split = 0" in capsys.readouterr().err
    assert main(["grid", str(config), "--logdir", str(tmp_path / "logs")]) == 2
    assert capsys.readouterr().err.strip().startswith(f"config error: {config}: data.validation_split")


def test_second_grid_on_the_same_folder_is_refused_with_one_line(tmp_path, tiny_config):
    from keras_dyn.runs.claims import process_lock
    from keras_dyn.tuning import GRID_LOCK, run_grid

    cfg = load_config(tiny_config).replace(grid={"units": [4, 8]})
    (tmp_path / "logs" / "tiny").mkdir(parents=True)
    held = process_lock(tmp_path / "logs" / "tiny" / GRID_LOCK, "grid tiny")
    try:
        with pytest.raises(KerasDynError) as info:
            run_grid(cfg, tmp_path / "logs", verbose=False)
    finally:
        os.close(held)
    message = str(info.value)
    assert "\n" not in message and f"pid {os.getpid()}" in message and "--workers" in message
    assert not (tmp_path / "logs" / "tiny" / "_tuner").exists()


def test_lab_name_must_be_a_name(tmp_path, capsys):
    from keras_dyn.cli.lab import run_lab

    lab = tmp_path / "bad lab"
    lab.mkdir()
    with pytest.raises(SystemExit) as info:
        run_lab(lab / "__main__.py", None, config=tmp_path / "none.toml", argv=[])
    assert info.value.code == 2
    assert "lab name" in capsys.readouterr().err


def test_np_seed_upper_bound_is_what_numpy_accepts():
    """SEED_MAX is the largest seed NumPy's legacy seeding (used by Keras) accepts."""
    from keras_dyn.config import SEED_MAX

    np.random.seed(SEED_MAX)
    with pytest.raises(ValueError):
        np.random.seed(SEED_MAX + 1)

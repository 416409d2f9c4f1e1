"""``--report-only`` on finished runs whose log folder refuses writes (a read-only file system)
writes the findings and figures to a writable folder it names, or to ``--out DIR``."""

import errno
import os

import pytest

from keras_dyn.__main__ import main
from keras_dyn.config import load_config


@pytest.fixture
def tiny_file(tiny_config, tmp_path):
    cfg = load_config(tiny_config).replace(log={"gradients": False, "activations": False, "weights": False},
                                           training={"epochs": 1})
    path = tmp_path / "tiny.toml"
    path.write_text(cfg.to_toml())
    return path


def _read_only(monkeypatch, logdir):
    """Every folder or file created under ``logdir`` fails as on a read-only file system."""
    real_mkdir, real_open = os.mkdir, os.open

    def mkdir(path, *args, **kwargs):
        if str(path).startswith(str(logdir)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kwargs)

    def open_(path, flags, *args, **kwargs):
        if str(path).startswith(str(logdir)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", open_)


def test_report_only_on_a_read_only_log_folder_writes_elsewhere_and_names_it(tiny_file, tmp_path, capsys,
                                                                            monkeypatch):
    logdir = tmp_path / "logs"
    assert main(["run", str(tiny_file), "--logdir", str(logdir)]) == 0
    before = sorted(p for p in logdir.rglob("*"))
    capsys.readouterr()
    _read_only(monkeypatch, logdir)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    assert main(["run", str(tiny_file), "--logdir", str(logdir), "--report-only"]) == 0
    err = capsys.readouterr().err
    assert "Read-only file system" in err and "keras_dyn-findings" in err and "Traceback" not in err
    written = list((tmp_path / "tmp" / "keras_dyn-findings" / "tiny").glob("FINDINGS-*.md"))
    assert len(written) == 1 and f"findings: {written[0]}" in err
    assert sorted(p for p in logdir.rglob("*")) == before

    out = tmp_path / "elsewhere"
    assert main(["run", str(tiny_file), "--logdir", str(logdir), "--report-only", "--out", str(out)]) == 0
    assert len(list((out / "tiny").glob("FINDINGS-*.md"))) == 1
    assert sorted(p for p in logdir.rglob("*")) == before

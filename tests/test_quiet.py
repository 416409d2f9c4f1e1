"""A quiet first run: TensorFlow's start-up noise kept out, in one place (keras_dyn/quiet.py)."""

import os
import re
import subprocess
import sys

import pytest

from conftest import REPO, TINY_TOML

NOISE = re.compile(r"cuInit|cudart|CUDA|cuda|absl|oneDNN|cpu_feature_guard|^[IWEF]\d{4} ")

# what TensorFlow 2.21 writes on a machine without an NVIDIA driver, with no log level set
CAPTURED = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796307481.350531    5360 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results.
I0000 00:00:1796307481.350931    5360 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796307481.398282    5360 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow.
/x/site-packages/keras/src/foo.py:12: UserWarning: something a user should see
W0000 00:00:1796307481.400000    5360 some_op.cc:10] a real warning
E0000 00:00:1796307486.101414    5360 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
E0000 00:00:1796307486.101414    5360 other.cc:52] a real error
"""


def test_python_loggers_follow_the_level():
    code = ("import logging; from keras_dyn.quiet import quiet_tensorflow; quiet_tensorflow(); "
            "from absl import logging as a; print(logging.getLogger('tensorflow').level, a.get_verbosity())")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_DYN_VERBOSE_TF")}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.split() == ["40", "-2"], out.stderr  # ERROR; absl's ERROR verbosity


def test_keras_dyn_sets_the_level_only_when_the_user_has_not(monkeypatch):
    code = "import os, keras_dyn; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == "2", out.stderr
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={**env, "TF_CPP_MIN_LOG_LEVEL": "0"}, timeout=60)
    assert out.stdout.strip() == "0", out.stderr


@pytest.mark.parametrize("level, kept", [
    ("2", ["UserWarning", "a real error"]),
    ("1", ["UserWarning", "a real warning", "a real error"]),
    ("3", ["UserWarning"]),
    ("0", ["oneDNN", "cudart_stub", "cpu_feature_guard", "To enable", "UserWarning", "a real warning",
           "cuInit", "a real error"]),
])
def test_filter_applies_the_level_to_the_lines_absl_printed_early(monkeypatch, level, kept):
    from keras_dyn.quiet import filter_startup

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
    lines = filter_startup(CAPTURED).splitlines()
    assert len(lines) == len(kept), lines
    for line, part in zip(lines, kept):
        assert part in line
    assert not any("InitializeLog" in line for line in lines)


def test_cuinit_kept_where_there_is_a_driver(monkeypatch):
    from keras_dyn import quiet

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setattr(quiet.os.path, "exists", lambda path: True)
    with_driver = CAPTURED.replace("Could not find cuda drivers on your machine", "cudart loaded")
    assert "cuInit" in quiet.filter_startup(with_driver)


@pytest.mark.slow  # ~10-25 s of real work: CI's slow suite runs it (the fast suite stays under 5 minutes)
def test_first_run_prints_no_tensorflow_noise(tmp_path):
    """`python -m keras_dyn run` with TF_CPP_MIN_LOG_LEVEL unset: our own lines, nothing of TF's."""
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML.replace("seeds = [0, 1]", "seeds = [0]").replace("epochs = 2", "epochs = 1"))
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_DYN_VERBOSE_TF", "PYTHONWARNINGS")}
    env.update(KERAS_DYN_NO_DOWNLOAD="1", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "keras_dyn", "run", str(config), "--logdir",
                           str(tmp_path / "logs")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    noise = [line for line in (proc.stderr + proc.stdout).splitlines() if NOISE.search(line)]
    assert noise == [], proc.stderr
    assert "epoch 1/1" in proc.stderr

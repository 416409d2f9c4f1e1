"""TensorFlow's start-up noise, dealt with in one place.

Imported first by ``keras_dyn/__init__.py``, so it runs before any keras_dyn module imports
TensorFlow. At import it only sets ``TF_CPP_MIN_LOG_LEVEL=2`` (TensorFlow's INFO and WARNING
lines off) when the user has not set it; a user's own value is kept as it is.

That variable is not enough on its own: TensorFlow writes its first lines (oneDNN, "Could not find
cuda drivers", the CPU-feature notice) through Abseil before Abseil's logging is initialised,
and such lines go to stderr whatever the level (with "WARNING: All log messages before
absl::InitializeLog() is called are written to STDERR" in front). And on a machine with no
NVIDIA driver, the first device query logs ``failed call to cuInit`` at ERROR level.

:func:`quiet_tensorflow` (called by every command that trains, after its config check) imports
TensorFlow and Keras and lists the devices with file descriptor 2 captured, then writes back
every captured line the level lets through: the level is applied to the lines Abseil printed
before it could, the "before absl::InitializeLog()" notice is dropped, and so is the cuInit
failure where the machine has no NVIDIA driver (there is no GPU for it to be about: a notice,
not an error) unless the level is 0 (everything). The level is applied to TensorFlow's and
Abseil's Python loggers too (from 2, their warnings, e.g. tf.function retracing notices, are off). Anything else (a Python warning, a real GPU's errors, a missing
CUDA library on a machine with a driver) is written back unchanged. Nothing is hidden from
TensorFlow: no device is masked, ``CUDA_VISIBLE_DEVICES`` is not touched.
``KERAS_DYN_VERBOSE_TF=1`` skips the capture altogether.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

DEFAULT_LEVEL = "2"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_LEVEL)

# "I0000 00:00:1796307481.350531    5360 port.cc:153] message": severity letter, then the source
_LOG_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ ([\w.\-]+):\d+\] (.*)$")
_PYTHON_LINE = re.compile(r"^(Traceback |\S+\.py:\d+: \w*(Warning|Error)\b)")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_ABSL_NOTICE = "All log messages before absl::InitializeLog() is called are written to STDERR"
_NO_DRIVER = "Could not find cuda drivers on your machine"


def _level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", DEFAULT_LEVEL))
    except ValueError:
        return 0


def _has_nvidia_driver(text: str) -> bool:
    if _NO_DRIVER in text:
        return False
    return os.path.exists("/proc/driver/nvidia/version") or not sys.platform.startswith("linux")


def filter_startup(text: str) -> str:
    """The lines of TensorFlow's captured start-up output that the log level lets through.

    A line without the glog-style prefix continues the log message before it and shares its
    fate (the CPU-feature notice spans two lines), unless it is blank or Python's own output (a
    warning ``FILE.py:LINE: ...Warning``, a traceback), which is always kept.
    """
    level = _level()
    no_driver = not _has_nvidia_driver(text)
    kept, keep = [], True
    for line in text.splitlines():
        if line.strip() == f"WARNING: {_ABSL_NOTICE}":
            keep = False
            continue
        match = _LOG_LINE.match(line)
        if match:
            severity, source, message = match.groups()
            keep = _SEVERITY[severity] >= level
            if (keep and level >= 1 and no_driver and severity == "E"
                    and "cuInit" in message and source.startswith("cuda")):
                keep = False
        elif not line.strip() or _PYTHON_LINE.match(line):
            keep = True
        if keep:
            kept.append(line)
    return "".join(line + "\n" for line in kept)


def _python_loggers(level: int) -> None:
    """The same level for TensorFlow's and Abseil's Python loggers (retracing notices, ...):
    from 2, warnings off (errors kept); from 3, errors too. Below 2 they are left as they are."""
    import logging

    python_level = {2: logging.ERROR, 3: logging.CRITICAL}.get(min(level, 3))
    if python_level is None:
        return
    logging.getLogger("tensorflow").setLevel(python_level)
    try:
        from absl import logging as absl_logging
    except ImportError:
        return
    absl_logging.set_verbosity(absl_logging.ERROR if level == 2 else absl_logging.FATAL)


def quiet_tensorflow() -> None:
    """Import TensorFlow and Keras, and list the devices, keeping their start-up noise out.

    Does nothing when TensorFlow is already imported, with ``KERAS_DYN_VERBOSE_TF`` set, or when
    stderr has no real file descriptor (e.g. captured by a test runner). Python errors raised by
    the import surface after stderr is restored, and what the capture kept is written first.
    """
    if "tensorflow" in sys.modules or os.environ.get("KERAS_DYN_VERBOSE_TF"):
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        return
    try:
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                import tensorflow as tf
                import keras  # noqa: F401

                tf.config.list_physical_devices()  # the device query is where cuInit is called
                _python_loggers(_level())
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                captured.seek(0)
                kept = filter_startup(captured.read().decode("utf-8", "replace"))
                if kept:
                    sys.stderr.write(kept)
                    sys.stderr.flush()
    finally:
        os.close(saved)

"""Run folders: claimed, found, reused.

* Run folders are **claimed** before training (:func:`claim_run`): ``<run>/.claim`` holds the
  host, pid and start time of the process training it, and that process holds an exclusive
  ``flock`` on it for as long as it trains. The lock is what counts: the kernel drops it when
  the process ends, however it ends, so a claim whose lock is free is stale (its process is
  dead) and the folder can be taken over; its half-written content is cleared first. Choosing
  or creating a run folder happens under a short lock on ``<experiment>/.lock``, so two
  processes never pick the same folder for two runs, nor two folders for the same run.
* A run folder is **finished** when its ``results.toml`` reads back with ``[run]`` and
  ``[final]`` tables (:func:`finished_results`); it is reused, never trained again, when its
  ``config.toml`` is byte for byte the config of the run wanted (:func:`find_finished`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from keras_dyn import tomlio
from keras_dyn.errors import OutputError
from keras_dyn.runs.files import (CONFIG_FILE, RESULTS_FILE, atomic_write_text, ensure_dir, inside,
                                  output_error, read_toml)

CLAIM_FILE = ".claim"


EXPERIMENT_LOCK = ".lock"


def _open_nofollow(path, flags) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)


@contextlib.contextmanager
def experiment_lock(experiment_dir):
    """A short exclusive lock on ``<experiment>/.lock``: run folders are chosen under it."""
    path = Path(experiment_dir) / EXPERIMENT_LOCK
    try:
        fd = _open_nofollow(path, os.O_RDWR | os.O_CREAT)
    except OSError as exc:
        raise output_error(exc, path, "cannot write") from None
    try:
        _flock(fd, fcntl.LOCK_EX, path)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def _flock(fd: int, how: int, path):
    """``flock``; a file system without working locks is one line (BlockingIOError passes)."""
    try:
        fcntl.flock(fd, how)
    except BlockingIOError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot lock {path}: {exc.strerror or exc} (keras_dyn needs a file "
                          f"system with working file locks for its log folder)") from None


def process_lock(path, what: str):
    """Hold an exclusive lock on ``path`` for the life of the process (or until closed).

    Returns the file descriptor, or ``None`` when a live process holds it (its owner line,
    written into the file, is then in :func:`owner_of`).
    """
    path = Path(path)
    try:
        fd = _open_nofollow(path, os.O_RDWR | os.O_CREAT)
    except OSError as exc:
        raise output_error(exc, path, "cannot write") from None
    try:
        _flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, path)
    except BlockingIOError:
        os.close(fd)
        return None
    except OutputError:
        os.close(fd)
        raise
    _write_owner(fd, what)
    return fd


def owner_line(what: str = "") -> str:
    now = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return (f"host = {socket.gethostname()!r}\npid = {os.getpid()}\nsince = {now!r}\n"
            f"what = {what!r}\n")


def _write_owner(fd: int, what: str):
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, owner_line(what).encode(), 0)


def owner_of(path) -> str:
    """``pid 123 on host x`` from a claim or lock file (best effort)."""
    try:
        info = tomlio.loads(Path(path).read_text(encoding="utf-8"))
        return f"pid {info['pid']} on host {info['host']}"
    except Exception:  # written by a process that died mid-write, or unreadable
        return "another process"


def finished_results(run_dir) -> dict | None:
    """The results of a finished run (``results.toml`` with ``[run]`` and ``[final]``), else None."""
    path = Path(run_dir) / RESULTS_FILE
    try:
        data = read_toml(path)
    except Exception:  # missing, unreadable or damaged: not finished
        return None
    if isinstance(data.get("run"), dict) and isinstance(data.get("final"), dict):
        return data
    return None


def candidates(experiment_dir, name: str) -> list[Path]:
    """``name`` and ``name_2``, ``name_3``, ... that exist in ``experiment_dir`` (real folders,
    not symbolic links), in suffix order."""
    pattern = re.compile(re.escape(name) + r"(?:_(\d+))?")
    found = []
    try:
        entries = list(os.scandir(experiment_dir))
    except OSError:
        return []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and entry.is_dir(follow_symlinks=False):
            found.append((int(match.group(1) or 1), Path(entry.path)))
    return [path for _, path in sorted(found)]


def _config_of(run_dir) -> str | None:
    try:
        return (Path(run_dir) / CONFIG_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _same_run(stored: str | None, config_text: str) -> bool:
    """A folder's ``config.toml`` is this run's: see :func:`keras_dyn.config.same_run_config`."""
    from keras_dyn.config import same_run_config  # pure Python, no TensorFlow

    return same_run_config(stored, config_text)


def find_finished(experiment_dir, name: str, config_text: str, skip=()) -> Path | None:
    """The newest finished folder of this run (same ``config.toml``), not in ``skip``; or None."""
    best = None
    for candidate in candidates(experiment_dir, name):
        if candidate.name in skip or not _same_run(_config_of(candidate), config_text):
            continue
        if finished_results(candidate) is None:
            continue
        stamp = (candidate / RESULTS_FILE).stat().st_mtime_ns
        if best is None or stamp >= best[0]:
            best = (stamp, candidate)
    return None if best is None else best[1]


@dataclass
class RunClaim:
    """What :func:`claim_run` found or made.

    ``state`` is ``"finished"`` (``results`` holds the results: reuse them), ``"new"`` (a new
    folder), ``"retaken"`` (a killed attempt's folder, cleared), or ``"busy"`` (a live process
    trains this run now: ``owner`` says which; only when ``wait`` was false).
    """

    run_dir: Path | None
    state: str
    results: dict | None = None
    owner: str = ""
    _fd: int | None = field(default=None, repr=False)

    @property
    def claimed(self) -> bool:
        return self.state in ("new", "retaken")

    def release(self):
        """Drop the claim (the process ending drops it too). The claim file stays: it says who
        trained the run."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def claim_run(experiment_dir, name: str, config_text: str, *, root, wait: bool = True,
              skip=(), on_wait=None, poll: float | None = None) -> RunClaim:
    """Find or claim the run folder of one run (one grid point, one seed).

    Args:
        experiment_dir: ``<logdir>/<experiment>``.
        name: the run name (``w8-8_bs32_s0``); folders ``name``, ``name_2``, ... are looked at.
        config_text: the run's resolved ``config.toml``: a folder belongs to this run iff its
            ``config.toml`` is exactly this.
        root: the log folder nothing may leave.
        wait: when a live process trains this run, wait for it (then reuse its results, or take
            the folder over if it died without them); when false, return ``state="busy"``.
        skip: folder names never reused (``--restart``: the finished runs it supersedes).
        on_wait: called with the owner string before waiting.

    Returns:
        A :class:`RunClaim`. A claimed folder holds ``.claim`` (locked by this process) and
        ``config.toml``; nothing else.
    """
    experiment_dir = Path(experiment_dir)
    ensure_dir(experiment_dir, root)
    inside(root, experiment_dir)
    while True:
        with experiment_lock(experiment_dir):
            finished = find_finished(experiment_dir, name, config_text, skip)
            if finished is not None:
                return RunClaim(finished, "finished", finished_results(finished))
            busy = None
            for candidate in candidates(experiment_dir, name):
                if candidate.name in skip:
                    continue
                config = _config_of(candidate)
                if config is not None and not _same_run(config, config_text):
                    continue
                if config is not None and finished_results(candidate) is None:
                    fd = process_lock(candidate / CLAIM_FILE, f"training {name}")
                    if fd is None:
                        busy = busy or candidate
                        continue
                    if finished_results(candidate) is None:  # still unfinished, now ours
                        _clear_except(candidate, (CLAIM_FILE, CONFIG_FILE))
                        return RunClaim(candidate, "retaken", _fd=fd)
                    os.close(fd)  # it finished just now
                    return RunClaim(candidate, "finished", finished_results(candidate))
            if busy is None:
                return _new_run_dir(experiment_dir, name, config_text, root)
            owner = owner_of(busy / CLAIM_FILE)
            if not wait:
                return RunClaim(busy, "busy", owner=owner)
        if on_wait is not None:
            on_wait(owner)
        _wait_for(busy / CLAIM_FILE, poll)


def _wait_for(claim_path: Path, poll: float | None):
    """Block until the process holding ``claim_path``'s lock drops it."""
    try:
        fd = _open_nofollow(claim_path, os.O_RDONLY)
    except OSError:
        return
    try:
        if poll is None:
            fcntl.flock(fd, fcntl.LOCK_SH)
        else:  # pragma: no cover - used where a blocking lock is not wanted
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(poll)
    finally:
        os.close(fd)


def _new_run_dir(experiment_dir: Path, name: str, config_text: str, root) -> RunClaim:
    """A new folder ``name`` (or ``name_2``, ...), claimed, with its ``config.toml``. Called
    under the experiment lock."""
    for attempt in range(1, 10_000):
        candidate = experiment_dir / (name if attempt == 1 else f"{name}_{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise output_error(exc, candidate, "cannot create folder") from None
        try:
            inside(root, candidate)
            fd = process_lock(candidate / CLAIM_FILE, f"training {name}")
            atomic_write_text(candidate / CONFIG_FILE, config_text, root=root)
        except BaseException:
            shutil.rmtree(candidate, ignore_errors=True)  # nothing half-made is left behind
            raise
        return RunClaim(candidate, "new", _fd=fd)
    raise OutputError(f"no free run folder for {name} in {experiment_dir}")  # pragma: no cover


def _clear_except(folder: Path, keep):
    """Remove everything in a taken-over folder but ``keep`` (a killed attempt's files)."""
    for entry in os.scandir(folder):
        if entry.name in keep:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


def discard_run_dir(claim: RunClaim):
    """After a failed run (the file system refused, the process was interrupted): remove what
    this process wrote into its claimed folder, so nothing half-written is left behind."""
    if claim.claimed and claim.run_dir is not None:
        with contextlib.suppress(OSError, OutputError), experiment_lock(claim.run_dir.parent):
            _clear_except(claim.run_dir, (CLAIM_FILE,))
            os.unlink(claim.run_dir / CLAIM_FILE)
            claim.run_dir.rmdir()
    claim.release()

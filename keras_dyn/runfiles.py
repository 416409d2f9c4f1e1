"""Everything keras_dyn writes goes through here: confined, atomic, claimed, one-line errors.

* :func:`inside` resolves a path and checks that it lies inside a root folder (the chosen log
  folder, or a lab's own folder for its ``LOG.md`` and figures). ``..`` and symbolic links that
  point out of the root are refused (:class:`~keras_dyn.errors.OutputError`), never followed.
* :func:`ensure_dir` creates a folder inside a root; :func:`atomic_write_text` writes a file
  inside a root through a temporary file and a rename (a killed process leaves the old file or
  the new one, never a torn one); with ``exclusive=True`` it never replaces an existing file
  (findings files). A file system that refuses (read-only, full, no permission) gives one
  line naming the path, and no temporary file is left behind.
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
import errno
import fcntl
import os
import re
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from keras_dyn import tomlio

from keras_dyn.errors import OutputError

CLAIM_FILE = ".claim"
EXPERIMENT_LOCK = ".lock"
CONFIG_FILE = "config.toml"
RESULTS_FILE = "results.toml"


# --------------------------------------------------------------------------- confinement


def inside(root, path) -> Path:
    """``path`` resolved (symbolic links followed, ``..`` removed), checked to lie in ``root``.

    Raises:
        OutputError: the resolved path is outside the resolved root.
    """
    root_resolved = Path(root).resolve()
    resolved = Path(path).resolve()
    if resolved != root_resolved and root_resolved not in resolved.parents:
        raise OutputError(f"{path} resolves to {resolved}, outside {root_resolved} (a '..' or a "
                          f"symbolic link pointing out of it); keras_dyn writes only inside it")
    return resolved


def ensure_dir(path, root=None) -> Path:
    """Create folder ``path`` (and its parents) inside ``root`` (default: ``path`` itself)."""
    path = Path(path)
    if root is not None:
        inside(root, path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_error(exc, path, "cannot create folder") from None
    if root is not None:
        inside(root, path)  # a link created meanwhile
    return path


def _output_error(exc: OSError, path, what: str) -> OutputError:
    reason = exc.strerror or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        reason += " (the disk is full)"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason += " (choose a writable --logdir)"
    return OutputError(f"{what} {path}: {reason}")


def atomic_write_text(path, text: str, *, root=None, exclusive: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically, inside ``root`` (default: the file's own folder).

    The text goes to a temporary file in the same folder, is flushed to disk and renamed into
    place; with ``exclusive=True`` it is linked into place instead, which fails with
    ``FileExistsError`` if ``path`` exists (nothing is replaced). A symbolic link at ``path``
    is replaced, never followed.

    Raises:
        OutputError: the path is outside ``root``, or the file system refused (read-only, full).
        FileExistsError: ``exclusive`` and ``path`` exists.
    """
    path = Path(path)
    ensure_dir(path.parent, root if root is not None else path.parent)
    if root is not None:
        inside(root, path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _output_error(exc, path, "cannot write") from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)  # atomic, and refuses an existing name
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except FileExistsError:
        Path(tmp).unlink(missing_ok=True)
        raise
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _output_error(exc, path, "cannot write") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_toml(path, data: dict, *, root=None) -> Path:
    return atomic_write_text(path, tomlio.dumps(data), root=root)


def read_toml(path) -> dict:
    return tomlio.loads(Path(path).read_text(encoding="utf-8"))


def exclusive_name(folder, make, root=None, limit: int = 10_000):
    """Call ``make(suffix)`` with ``""``, ``"-2"``, ``"-3"``, ... until it does not raise
    ``FileExistsError``; return what it returned (findings files and figure folders)."""
    for attempt in range(1, limit):
        try:
            return make("" if attempt == 1 else f"-{attempt}")
        except FileExistsError:
            continue
    raise OutputError(f"no free name in {folder} after {limit} tries")  # pragma: no cover


# --------------------------------------------------------------------------- locks


def _open_nofollow(path, flags) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)


@contextlib.contextmanager
def experiment_lock(experiment_dir):
    """A short exclusive lock on ``<experiment>/.lock``: run folders are chosen under it."""
    path = Path(experiment_dir) / EXPERIMENT_LOCK
    try:
        fd = _open_nofollow(path, os.O_RDWR | os.O_CREAT)
    except OSError as exc:
        raise _output_error(exc, path, "cannot write") from None
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
        raise _output_error(exc, path, "cannot write") from None
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


# --------------------------------------------------------------------------- run folders


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
            raise _output_error(exc, candidate, "cannot create folder") from None
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


__all__ = ["inside", "ensure_dir", "atomic_write_text", "atomic_write_toml", "read_toml",
           "exclusive_name", "experiment_lock", "process_lock", "owner_of", "finished_results",
           "candidates", "find_finished", "RunClaim", "claim_run", "discard_run_dir"]

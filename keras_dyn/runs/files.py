"""Everything keras_dyn writes goes through here: confined, atomic, one-line errors.

* :func:`inside` resolves a path and checks that it lies inside a root folder (the chosen log
  folder, or a lab's own folder for its ``LOG.md`` and figures). ``..`` and symbolic links that
  point out of the root are refused (:class:`~keras_dyn.errors.OutputError`), never followed.
* :func:`ensure_dir` creates a folder inside a root; :func:`atomic_write_text` writes a file
  inside a root through a temporary file and a rename (a killed process leaves the old file or
  the new one, never a torn one); with ``exclusive=True`` it never replaces an existing file
  (findings files). A file system that refuses (read-only, full, no permission) gives one
  line naming the path, and no temporary file is left behind.

Run folders and their claims are :mod:`keras_dyn.runs.claims`.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from keras_dyn import tomlio
from keras_dyn.errors import OutputError

CONFIG_FILE = "config.toml"


RESULTS_FILE = "results.toml"


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
        raise output_error(exc, path, "cannot create folder") from None
    if root is not None:
        inside(root, path)  # a link created meanwhile
    return path


def output_error(exc: OSError, path, what: str) -> OutputError:
    reason = exc.strerror or type(exc).__name__
    if exc.errno == errno.ENOSPC:
        reason += " (the disk is full)"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason += " (choose a writable --logdir)"
    return OutputError(f"{what} {path}: {reason}")


def atomic_write_text(path, text: str | bytes, *, root=None, exclusive: bool = False) -> Path:
    """Write ``text`` (a str, written as UTF-8, or bytes) to ``path`` atomically, inside ``root`` (default: the file's own folder).

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
        raise output_error(exc, path, "cannot write") from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8") if isinstance(text, str) else text)
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
        raise output_error(exc, path, "cannot write") from None
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

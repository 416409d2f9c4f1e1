"""Every error keras_dyn raises on purpose.

Each one renders as a single line for the command line: ``python -m keras_dyn`` and the labs
print ``str(error)`` to stderr and exit with status 2, with no traceback.
"""


class KerasDynError(Exception):
    """Base class: a problem the user can fix (bad config, missing data, bad option)."""

    exit_code = 2


class ConfigError(KerasDynError):
    """A TOML experiment file is malformed or holds a value that is not allowed.

    Args:
        source: the file (or "<dict>") the value came from.
        key: dotted key, e.g. ``training.optimizer``; empty for file-level problems.
        message: what is wrong and what is allowed.
    """

    def __init__(self, source, key, message):
        self.source = str(source)
        self.key = key
        self.message = message
        where = f"{self.source}: {key}: " if key else f"{self.source}: "
        super().__init__(f"config error: {where}{message}")


class DataError(KerasDynError):
    """A data set file is missing or damaged, or a data option is impossible."""

    def __init__(self, message):
        super().__init__(f"data error: {message}")


class OutputError(KerasDynError):
    """Output cannot be written where it must go: the log folder (or a lab's folder) is
    read-only or full, or a path would leave it (``..``, a symbolic link pointing out)."""

    def __init__(self, message):
        super().__init__(f"output error: {message}")

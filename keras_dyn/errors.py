"""Every error keras_dyn raises on purpose.

Each one renders as a single line for the command line: ``python -m keras_dyn`` and the labs
print ``str(error)`` to stderr and exit with status 2, with no traceback. The one exception is
:class:`ConfigErrors`: every problem of one config file, one line each.
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

    @property
    def errors(self) -> list:
        """The problems this error reports, one ConfigError per line (here just itself)."""
        return [self]


class ConfigErrors(ConfigError):
    """Every problem found in one config file: ``str()`` is one line per problem.

    ``source``, ``key`` and ``message`` are the first problem's, so code that reads one error
    keeps working; ``errors`` lists them all. Raise it through :meth:`ConfigErrors.of`, which
    gives back the error itself when there is only one (its line, word for word, as before).
    """

    def __init__(self, errors):
        flat = [e for error in errors for e in error.errors]
        if not flat:
            raise ValueError("ConfigErrors needs at least one error")
        first = flat[0]
        self.source, self.key, self.message = first.source, first.key, first.message
        self._errors = flat
        KerasDynError.__init__(self, "\n".join(str(e) for e in flat))

    @property
    def errors(self) -> list:
        return list(self._errors)

    @staticmethod
    def of(errors) -> ConfigError:
        """One error as itself, several as a :class:`ConfigErrors`."""
        flat = [e for error in errors for e in error.errors]
        return flat[0] if len(flat) == 1 else ConfigErrors(flat)


class Collector:
    """Runs independent checks and keeps every :class:`ConfigError` they raise.

    ``attempt(check, *args)`` returns the check's value, or :data:`Collector.FAILED` after
    recording its error; ``ok`` says whether nothing failed so far (checks that depend on earlier values are
    skipped when it is false, so one mistake does not cascade); ``raise_all()`` raises what was
    recorded (:meth:`ConfigErrors.of`), if anything.
    """

    FAILED = object()  # what attempt() returns for a check that raised

    def __init__(self):
        self.errors = []

    @property
    def ok(self) -> bool:
        return not self.errors

    def attempt(self, check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except ConfigError as exc:
            self.errors.extend(exc.errors)
            return Collector.FAILED

    def add(self, error: ConfigError):
        self.errors.extend(error.errors)

    def raise_all(self):
        if self.errors:
            raise ConfigErrors.of(self.errors)


class DataError(KerasDynError):
    """A data set file is missing or damaged, or a data option is impossible."""

    def __init__(self, message):
        super().__init__(f"data error: {message}")


class OutputError(KerasDynError):
    """Output cannot be written where it must go: the log folder (or a lab's folder) is
    read-only or full, or a path would leave it (``..``, a symbolic link pointing out)."""

    def __init__(self, message):
        super().__init__(f"output error: {message}")

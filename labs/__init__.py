"""The labs: ``python -m labs`` lists them, ``python -m labs.<name>`` runs one.

A lab is ``configs/<name>.toml`` plus ``labs/<name>/LOG.md`` and nothing else: this package
supplies the ``labs.<name>.__main__`` module for every lab folder that has no ``__main__.py`` of
its own, so ``python -m labs.<name>`` works for a lab written as data only.
"""

import importlib.abc
import importlib.util
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent


class _LabMainLoader(importlib.abc.Loader):
    def __init__(self, lab: str):
        self.lab = lab

    def create_module(self, spec):
        return None

    def get_code(self, fullname):  # runpy (python -m) runs this code as __main__
        source = ("import sys\nfrom keras_dyn.cli.lab import main\n\n"
                  f"if __name__ == '__main__':\n    sys.exit(main({self.lab!r}))\n")
        return compile(source, f"<lab {self.lab}>", "exec")

    def exec_module(self, module):
        exec(self.get_code(module.__name__), module.__dict__)


class _LabMainFinder(importlib.abc.MetaPathFinder):
    """Finds ``labs.<lab>.__main__`` for a lab folder holding a LOG.md."""

    def find_spec(self, fullname, path=None, target=None):
        parts = fullname.split(".")
        if len(parts) != 3 or parts[0] != __name__ or parts[2] != "__main__":
            return None
        folder = _HERE / parts[1]
        if not (folder / "LOG.md").is_file() or (folder / "__main__.py").exists():
            return None
        return importlib.util.spec_from_loader(fullname, _LabMainLoader(parts[1]), origin=str(folder / "LOG.md"))


if not any(isinstance(f, _LabMainFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _LabMainFinder())

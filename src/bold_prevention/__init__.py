"""BOLD Prevention toolkit: Step A of the "use case -> data -> linkage" pipeline over Data First.

From Python (a notebook, a script)::

    import bold_prevention as bold

    p = bold.Project("bold-project")
    p.cohorts()

See ``docs/python-api.md``. ``Project`` is loaded on first use, so ``import bold_prevention`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = ["DEFAULT_SEED", "Project", "__version__"]

_LAZY = {"Project", "DEFAULT_SEED"}


def __getattr__(name: str) -> Any:
    # Loaded by name, not by an import statement: the package's lower layers read ``__version__`` from here, and
    # a static import of the API (which sits above them) would make them depend on it. Type checkers read the
    # names' types from __init__.pyi.
    if name in _LAZY:
        return getattr(importlib.import_module("bold_prevention.api"), name)
    raise AttributeError(f"module 'bold_prevention' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

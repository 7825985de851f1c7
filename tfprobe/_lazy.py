"""Public names of a package imported on first use (PEP 562), so that light uses stay light.

``import tfprobe`` and ``tfprobe.datasets.digits`` do not load TensorFlow: the command line builds its
parser and answers ``--help`` in a fraction of TensorFlow's import time, and ``tfprobe data`` never
imports it.  ``tfprobe.Probe`` (or ``from tfprobe import Probe``) imports what it needs at that moment.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose ``exports`` map a public name to its module.

    A name that maps to its own module path (``"datasets": "tfprobe.datasets"``) is that module.
    """
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(module_name)
        value = module if module_name == f"{package}.{name}" else getattr(module, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__

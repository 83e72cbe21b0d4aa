"""offlineimap-phantomfix: make OfflineIMAP survive servers that list a message and then refuse to deliver it.

Activate it in the file that ``[general] pythonfile`` names::

    import offlineimap_phantomfix
    offlineimap_phantomfix.install()

and set ``type = PhantomSafeIMAP`` (or ``PhantomSafeGmail``) in the remote repository section.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

try:
    __version__ = metadata.version("offlineimap-phantomfix")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["PhantomSafeGmailRepository", "PhantomSafeIMAPRepository", "__version__", "install"]

# The repository classes import offlineimap; load them only when asked for, so that the pure modules and
# the test emulator stay importable (and fast) on their own.
_LAZY = {
    "install": "offlineimap_phantomfix.activation",
    "PhantomSafeIMAPRepository": "offlineimap_phantomfix.repository",
    "PhantomSafeGmailRepository": "offlineimap_phantomfix.repository",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)

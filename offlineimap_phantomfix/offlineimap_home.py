"""Find offlineimap's modules where Debian and Ubuntu keep them.

Their ``offlineimap3`` package installs the ``offlineimap`` package under ``/usr/share/offlineimap3``, which
is not on Python's module path: ``/usr/bin/offlineimap`` reaches it only because the script itself lives
there. The helper command and ``offlineimap-phantomsafe`` are started from elsewhere, so they add that
directory to ``sys.path`` when ``import offlineimap`` would otherwise fail.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

DEBIAN_HOMES = ("/usr/share/offlineimap3",)


def find_offlineimap_home(candidates: Sequence[str] = DEBIAN_HOMES) -> str | None:
    """The first candidate directory that holds an ``offlineimap`` package, or None."""
    for directory in candidates:
        if (Path(directory) / "offlineimap" / "__init__.py").is_file():
            return directory
    return None


def make_offlineimap_importable(candidates: Sequence[str] = DEBIAN_HOMES) -> str | None:
    """Append the directory holding offlineimap to ``sys.path`` when ``import offlineimap`` would fail.

    Returns the directory added, or None when nothing was needed or nothing was found (the import then
    fails later with its own error). An offlineimap already importable always wins.
    """
    if importlib.util.find_spec("offlineimap") is not None:
        return None
    home = find_offlineimap_home(candidates)
    if home is None:
        return None
    if home not in sys.path:
        sys.path.append(home)
        importlib.invalidate_caches()
    return home

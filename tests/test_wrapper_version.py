"""``offlineimap-phantomsafe --version`` names both versions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import offlineimap

from offlineimap_phantomfix import __version__


def test_wrapper_version_names_the_plugin_and_offlineimap() -> None:
    wrapper = Path(sys.executable).with_name("offlineimap-phantomsafe")
    done = subprocess.run([str(wrapper), "--version"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"offlineimap-phantomsafe: offlineimap-phantomfix {__version__}, "
                           f"offlineimap {offlineimap.__version__}\n")

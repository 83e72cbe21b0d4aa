"""``python -m offlineimap_phantomfix``: the helper command."""

from offlineimap_phantomfix.cli import main

raise SystemExit(main())

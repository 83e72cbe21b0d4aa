"""Shared pytest configuration: the emulator fixtures."""

pytest_plugins = ["offlineimap_phantomfix.testing.plugin"]

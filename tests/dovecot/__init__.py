"""Tests against a real, throw-away Dovecot on 127.0.0.1 (see ``offlineimap_phantomfix.testing.dovecot``)."""

"""The exceptions this package raises on purpose.

Every error a user can cause (a broken config, unreadable state, wrong arguments, a server that misbehaves)
ends as one of these, so the command line can print one clear line and exit 1.
"""

from __future__ import annotations


class PhantomFixError(Exception):
    """Base class: any failure this package reports to the user as one line."""


class ConfigError(PhantomFixError):
    """Raised when offlineimaprc or a ``phantom_*`` option cannot be read or has a bad value."""


class StoreError(PhantomFixError):
    """Raised when the skip list / record store cannot be opened, read or written."""


class QuarantineError(PhantomFixError):
    """Raised when a quarantine item cannot be written."""


class ServerError(PhantomFixError):
    """Raised when an IMAP server cannot be reached, refuses login, or answers outside the protocol."""


class NotFoundError(PhantomFixError):
    """Raised when an account, folder or UID named on the command line does not exist."""


class UnsafeOperationError(PhantomFixError):
    """Raised when a server-side change is refused because it could touch more than the target message."""

"""How the emulated Exchange misbehaves (:class:`Fault`) and the words it says: greeting, refusals, farewells."""

from __future__ import annotations

import enum

GREETING = "* OK The Microsoft Exchange IMAP4 service is ready."
REFUSED_NO_TEXT = "The requested message could not be converted to an RFC-822 compatible format."
REFUSED_BAD_TEXT = "Command Argument Error. 11"
BYE_DROPPED = "* BYE FETCH failed: Internal error occurred. Refer to server log for more information."
BYE_TOO_MANY_ERRORS = "* BYE Connection is closed. 13"
BYE_LOGOUT = "* BYE Microsoft Exchange Server 2013 IMAP4 server signing off."
EXPUNGEISSUED_TEXT = "[EXPUNGEISSUED] Some messages were already expunged"
INVALID_STATE_TEXT = "Command received in Invalid state."


class Fault(str, enum.Enum):
    """How the server misbehaves when a client asks for the content of one message."""

    EMPTY = "empty"
    """Content fetch: no untagged FETCH for the message at all, only ``<tag> OK FETCH completed.``"""
    PLACEHOLDER = "placeholder"
    """BODY.PEEK[] empty; BODY[] / RFC822 / header sections return the Exchange substitute."""
    PLACEHOLDER_PEEK = "placeholder_peek"
    """Every content fetch, BODY.PEEK[] included, returns the Exchange substitute."""
    REFUSED_NO = "refused_no"
    """Content fetch: ``<tag> NO The requested message could not be converted ...``"""
    REFUSED_BAD = "refused_bad"
    """Content fetch: ``<tag> BAD Command Argument Error. 11``"""
    DROPPED = "dropped"
    """Content fetch: ``* BYE FETCH failed: Internal error occurred ...`` and the connection closes."""
    VANISH = "vanish"
    """First content fetch: ``BODY[] NIL``, ``* n EXPUNGE``, ``OK [EXPUNGEISSUED]``; the message is gone."""
    VANISH_LISTED = "vanish_listed"
    """Every content fetch: ``BODY[] NIL`` and ``* n EXPUNGE``, yet the message stays listed (new sessions see it)."""
    SEQUENCE_ONLY = "sequence_only"
    """UID FETCH content forms behave as EMPTY; sequence-number content fetches deliver the message."""
    SEQUENCE_WRONG = "sequence_wrong"
    """UID FETCH content forms behave as EMPTY; a sequence content fetch returns the NEXT message."""


PLACEHOLDER_FAULTS = frozenset({Fault.PLACEHOLDER, Fault.PLACEHOLDER_PEEK})

"""Failures of the Python code a configuration carries: offlineimap evaluates ``nametrans``, ``folderfilter``
and the like from the offlineimaprc, and runs the functions of ``[general] pythonfile``, whenever it builds a
folder. When that code raises, the user gets one line naming it, not a traceback of offlineimap's internals."""

from __future__ import annotations

from offlineimap_phantomfix.sanitize import clean_text

__all__ = ["configuration_code_words", "raised_in_configuration_code"]

# offlineimap evaluates the offlineimaprc's expressions with eval() (so their code is named "<string>") and loads
# the pythonfile as a module named "<none>".
_EVALUATED = "<string>"
_PYTHONFILE_MODULE = "<none>"


def raised_in_configuration_code(error: BaseException) -> bool:
    """Did ``error`` pass through code from the offlineimaprc or its pythonfile on its way up?"""
    trace = error.__traceback__
    while trace is not None:
        frame = trace.tb_frame
        if frame.f_code.co_filename == _EVALUATED or frame.f_globals.get("__name__") == _PYTHONFILE_MODULE:
            return True
        trace = trace.tb_next
    return False


def configuration_code_words(error: BaseException) -> str:
    words = clean_text(f"{type(error).__name__}: {error}", limit=300)
    return (f"Python code of the offlineimap configuration (a nametrans, folderfilter or other expression, or a "
            f"function of the pythonfile) raised {words}; offlineimap would fail on it too")

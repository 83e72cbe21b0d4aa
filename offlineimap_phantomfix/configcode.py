"""Failures of the Python code a configuration carries: offlineimap evaluates ``nametrans``, ``folderfilter``
and the like from the offlineimaprc, and runs the functions of ``[general] pythonfile``, whenever it builds a
folder. When that code raises, the user gets one line naming it, not a traceback of offlineimap's internals."""

from __future__ import annotations

from collections.abc import Callable
from types import FrameType

from offlineimap_phantomfix.sanitize import clean_text

__all__ = ["configuration_code_words", "raised_in_configuration_code"]

# offlineimap's evaluator of the offlineimaprc's expressions. It loads the pythonfile as a module named "<none>"
# and evaluates each expression with eval() over a copy of that module's names (so with "__name__" "<none>"),
# or over no names at all without a pythonfile. Code Python itself generates with exec() (dataclasses,
# namedtuple) is also named "<string>", but runs over its module's names, which hold a real "__name__".
_EVALUATOR_MODULE = "offlineimap.localeval"
_PYTHONFILE_MODULE = "<none>"
_EVALUATED = "<string>"


def _evaluating(frame: FrameType) -> bool:
    """offlineimap is evaluating an expression or loading the pythonfile (a SyntaxError has no frame of its own)."""
    return frame.f_globals.get("__name__") == _EVALUATOR_MODULE


def _configuration_code(frame: FrameType) -> bool:
    module = frame.f_globals.get("__name__", None)
    if module == _PYTHONFILE_MODULE:
        return True
    return frame.f_code.co_filename == _EVALUATED and module is None


def _passes(error: BaseException, test: Callable[[FrameType], bool]) -> bool:
    trace = error.__traceback__
    while trace is not None:
        if test(trace.tb_frame):
            return True
        trace = trace.tb_next
    return False


def raised_in_configuration_code(error: BaseException) -> bool:
    """Did ``error`` come from code of the offlineimaprc or its pythonfile, or from evaluating it?"""
    return _passes(error, _evaluating) or _passes(error, _configuration_code)


def configuration_code_words(error: BaseException) -> str:
    words = clean_text(f"{type(error).__name__}: {error}", limit=300)
    return (f"Python code of the offlineimap configuration (a nametrans, folderfilter or other expression, or a "
            f"function of the pythonfile) raised {words}; offlineimap would fail on it too")

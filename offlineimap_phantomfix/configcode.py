"""Failures of the Python code a configuration carries: offlineimap evaluates ``nametrans``, ``folderfilter``
and the like from the offlineimaprc, and runs the functions of ``[general] pythonfile``, whenever it builds a
folder. When that code raises, the user gets one line naming it, not a traceback of offlineimap's internals."""

from __future__ import annotations

from types import FrameType

from offlineimap_phantomfix.sanitize import clean_text

__all__ = ["configuration_code_failure"]

# offlineimap's evaluator of the offlineimaprc's expressions. It loads the pythonfile as a module named "<none>"
# and evaluates each expression with eval() over a copy of that module's names (so with "__name__" "<none>"),
# or over no names at all without a pythonfile. Code Python itself generates with exec() (dataclasses,
# namedtuple) is also named "<string>", but runs over its module's names, which hold a real "__name__".
_EVALUATOR_MODULE = "offlineimap.localeval"
_PYTHONFILE_MODULE = "<none>"
_EVALUATED = "<string>"


def _configuration_code(frame: FrameType) -> bool:
    """Code of the offlineimaprc or its pythonfile, or offlineimap evaluating it (a SyntaxError has no frame of
    its own)."""
    module = frame.f_globals.get("__name__", None)
    if module in (_PYTHONFILE_MODULE, _EVALUATOR_MODULE):
        return True
    return frame.f_code.co_filename == _EVALUATED and module is None


def configuration_code_failure(error: BaseException) -> str | None:
    """The one-line words for ``error`` when it came from the configuration's own Python code; None when it did
    not (a defect of ours, whose traceback a bug report needs)."""
    trace = error.__traceback__
    while trace is not None and not _configuration_code(trace.tb_frame):
        trace = trace.tb_next
    if trace is None:
        return None
    words = clean_text(f"{type(error).__name__}: {error}", limit=300)
    return (f"Python code of the offlineimap configuration (a nametrans, folderfilter or other expression, or a "
            f"function of the pythonfile) raised {words}; offlineimap would fail on it too")

"""Client histories and the consistency models they can be checked against.

Parse a history (:func:`load_history`), pick a sequential model (:func:`get_model`), then
:func:`check_linearizable` it; shrink a failure with :func:`minimal_window` and draw it with
:mod:`explorer.history.render`. :mod:`explorer.history.weaker` checks sequential consistency and
the session guarantees on the same histories.
"""

from .history import (
    INFINITY,
    UNKNOWN,
    History,
    HistoryTimeout,
    Operation,
    Status,
    format_value,
    json_lines,
    load_history,
    parse_edn,
    parse_history,
)
from .linearizability import (
    LinearizabilityResult,
    PartialLinearization,
    Verdict,
    check_from,
    check_linearizable,
    check_naive,
)
from .model import MODELS, CasRegister, Input, KeyValue, Lock, Model, Queue, SetModel, get_model
from .shrink import Window, minimal_window

__all__ = [
    "INFINITY",
    "MODELS",
    "UNKNOWN",
    "CasRegister",
    "History",
    "HistoryTimeout",
    "Input",
    "KeyValue",
    "LinearizabilityResult",
    "Lock",
    "Model",
    "Operation",
    "PartialLinearization",
    "Queue",
    "SetModel",
    "Status",
    "Verdict",
    "Window",
    "check_from",
    "check_linearizable",
    "check_naive",
    "format_value",
    "get_model",
    "json_lines",
    "load_history",
    "minimal_window",
    "parse_edn",
    "parse_history",
]

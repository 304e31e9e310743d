"""protospec's engine: write a protocol as a Spec, explore it, read the shortest counterexample.

The engine imports no spec. Data flows one way: spec -> explorer -> result -> renderers -> CLI.
"""

from .bfs import check, rebuild_trace
from .errors import ProtospecError, SpecError, TraceFormatError, UsageError
from .result import ActionCoverage, CheckResult, Stats, Step, Trace, Violation
from .spec import (
    Action,
    ActionInstance,
    Param,
    Property,
    Spec,
    action,
    action_property,
    from_state,
    invariant,
)
from .symmetry import Bag, Symmetric
from .values import except_at, format_value, sort_key

__all__ = [
    "Action",
    "ActionCoverage",
    "ActionInstance",
    "Bag",
    "CheckResult",
    "Param",
    "Property",
    "ProtospecError",
    "Spec",
    "SpecError",
    "Stats",
    "Step",
    "Symmetric",
    "Trace",
    "TraceFormatError",
    "UsageError",
    "Violation",
    "action",
    "action_property",
    "check",
    "except_at",
    "format_value",
    "from_state",
    "invariant",
    "rebuild_trace",
    "sort_key",
]

__version__ = "0.1.0"

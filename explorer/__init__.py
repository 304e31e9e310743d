"""protospec's engine: write a protocol as a Spec, explore it, read the shortest counterexample.

The engine imports no spec. Data flows one way: spec -> explorer -> result -> renderers -> CLI.
"""

from .bfs import rebuild_trace
from .errors import ProtospecError, SpecError, TraceFormatError, UsageError
from .liveness.formulas import always_eventually, eventually, eventually_always, leads_to
from .liveness.run import check
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
    liveness,
    sometimes,
)
from .values import except_at, format_value, sort_key

__all__ = [
    "Action",
    "ActionCoverage",
    "ActionInstance",
    "CheckResult",
    "Param",
    "Property",
    "ProtospecError",
    "Spec",
    "SpecError",
    "Stats",
    "Step",
    "Trace",
    "TraceFormatError",
    "UsageError",
    "Violation",
    "action",
    "action_property",
    "always_eventually",
    "check",
    "eventually",
    "eventually_always",
    "except_at",
    "format_value",
    "from_state",
    "invariant",
    "leads_to",
    "liveness",
    "rebuild_trace",
    "sometimes",
    "sort_key",
]

__version__ = "0.1.0"

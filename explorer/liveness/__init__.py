"""Liveness: eventually, leads-to and always-eventually properties under weak and strong
fairness, checked on the reachable state graph; counterexamples are lassos.

* formulas.py     the property objects (eventually, always_eventually, leads_to,
                  eventually_always)
* graph.py        the state graph as arrays, and what fairness and stuttering mean on it
* fair_cycles.py  SCC decomposition with fairness pruning: the states on fair cycles
* lasso.py        a shortest prefix to a fair cycle that avoids the goal, and that cycle
"""

from .fair_cycles import FairComponents, fair_components
from .formulas import (
    AlwaysEventually,
    Eventually,
    EventuallyAlways,
    LeadsTo,
    Temporal,
    always_eventually,
    eventually,
    eventually_always,
    leads_to,
)
from .graph import FAIR_NONE, FAIR_STRONG, FAIR_WEAK, StateGraph
from .lasso import Lasso, find_lasso

__all__ = [
    "FAIR_NONE",
    "FAIR_STRONG",
    "FAIR_WEAK",
    "AlwaysEventually",
    "Eventually",
    "EventuallyAlways",
    "FairComponents",
    "Lasso",
    "LeadsTo",
    "StateGraph",
    "Temporal",
    "always_eventually",
    "eventually",
    "eventually_always",
    "fair_components",
    "find_lasso",
    "leads_to",
]

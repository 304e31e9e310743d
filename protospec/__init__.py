"""protospec: write a distributed protocol as a Python state machine, explore every reachable
state, read the shortest counterexample, and test a real implementation against the spec.

The public API::

    from protospec import Spec, Param, action, invariant, check

Everything protospec installs lives under this package: the engine is ``protospec.explorer``,
the built-in specs ``protospec.specs``, the implementations ``protospec.impl``. In the source
repository those three are top-level folders beside this one; the wheel maps them under
``protospec/`` at build time, and in a source checkout this package's path is extended to the
repository root so that the same imports work in both places.
"""

from __future__ import annotations

import os as _os

_here = _os.path.dirname(_os.path.abspath(__file__))
if not _os.path.isdir(_os.path.join(_here, "explorer")):
    # A source checkout: explorer/, specs/ and impl/ sit beside this folder, not inside it.
    __path__.append(_os.path.dirname(_here))

from .explorer import *  # noqa: E402, F403  (the engine's curated public names)
from .explorer import __all__ as _engine_all  # noqa: E402
from .explorer import __version__ as __version__  # noqa: E402

__all__ = list(_engine_all)

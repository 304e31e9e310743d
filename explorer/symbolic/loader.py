"""Finding a spec's symbolic encoding: ``specs/<name>_symbolic.py`` or ``Spec.symbolic``."""

from __future__ import annotations

import importlib

from ..errors import SpecError, UsageError
from ..spec import Spec
from .encoding import SymbolicEncoding

__all__ = ["load_encoding"]


def load_encoding(spec: Spec) -> SymbolicEncoding:
    """The symbolic encoding for this spec instance (and its variant), or a UsageError."""
    base = type(spec).base_spec()
    cls = getattr(base, "symbolic", None)
    if cls is None:
        try:
            module = importlib.import_module(f"protospec.specs.{base.name}_symbolic")
        except ModuleNotFoundError:
            raise UsageError(
                f"spec {base.name!r} has no symbolic encoding (write specs/{base.name}"
                f"_symbolic.py, or set `symbolic = MyEncoding` on the spec class; see "
                f"docs/symbolic.md)") from None
        cls = getattr(module, "ENCODING", None)
        if cls is None:
            raise SpecError(f"specs/{base.name}_symbolic.py defines no ENCODING")
    variant = spec.variant_name
    if variant is not None:
        if variant not in cls.variants:
            raise UsageError(f"the symbolic encoding of {base.name!r} does not cover variant "
                             f"{variant!r} (it covers: {', '.join(cls.variants) or 'none'})")
        cls = cls.variants[variant]
    return cls(spec)

"""Finding specs: built-in ones by name, the user's own by file path.

The engine imports no spec at import time; this module imports one only when asked for it by
name, so ``explorer`` stays independent of ``specs``.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

from .errors import SpecError, UsageError
from .spec import Spec

__all__ = ["builtin_spec_names", "load_spec", "spec_class_in"]

BUILTIN_PACKAGE = "protospec.specs"


def builtin_spec_names() -> list[str]:
    """The names of the specs shipped in the ``specs`` package, sorted."""
    try:
        pkg = importlib.import_module(BUILTIN_PACKAGE)
    except ImportError:
        return []
    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)
                  if not m.name.startswith("_")
                  and not m.name.endswith(("_refinement", "_symbolic")))


def spec_class_in(module: ModuleType, where: str) -> type[Spec]:
    """The one Spec subclass a module defines (not counting variants), or ``SPEC`` if it sets it."""
    explicit = getattr(module, "SPEC", None)
    if explicit is not None:
        if not (inspect.isclass(explicit) and issubclass(explicit, Spec)):
            raise SpecError(f"{where}: SPEC must be a Spec subclass, not {explicit!r}")
        return explicit
    found = [obj for obj in vars(module).values()
             if inspect.isclass(obj) and issubclass(obj, Spec) and obj is not Spec
             and obj.__module__ == module.__name__ and obj.variant_info is None]
    if not found:
        raise SpecError(f"{where} defines no Spec subclass (write `class MySpec(Spec): ...`)")
    if len(found) > 1:
        names = ", ".join(c.__name__ for c in found)
        raise SpecError(f"{where} defines several specs ({names}); set SPEC = <the one to check>")
    return found[0]


def load_spec(name_or_path: str) -> type[Spec]:
    """Load a spec class from a built-in name (``raft``) or a Python file (``my/spec.py``)."""
    if name_or_path.endswith(".py") or "/" in name_or_path or Path(name_or_path).is_file():
        return _load_file(Path(name_or_path))
    names = builtin_spec_names()
    if name_or_path not in names:
        close = difflib.get_close_matches(name_or_path, names, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"no spec named {name_or_path!r}.{hint} Run `protospec list` for the "
                         f"built-in specs, or give the path of a .py file.")
    module = _import(f"{BUILTIN_PACKAGE}.{name_or_path}", f"spec {name_or_path!r}")
    return spec_class_in(module, f"spec module {module.__name__}")


def _import(module_name: str, where: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except SpecError:
        raise
    except Exception as exc:
        raise SpecError(f"{where}: importing it failed with {type(exc).__name__}: {exc}",
                        cause=exc) from exc


def _load_file(path: Path) -> type[Spec]:
    if path.is_dir():
        raise UsageError(f"{str(path)!r} is a folder; give the spec's .py file (or a built-in "
                         f"name, see `protospec list`)")
    if not path.is_file():
        raise UsageError(f"spec file {str(path)!r} does not exist")
    module_name = f"protospec_user_{path.stem}"
    spec_obj = importlib.util.spec_from_file_location(module_name, path)
    if spec_obj is None or spec_obj.loader is None:
        raise UsageError(f"{str(path)!r} is not a Python file protospec can load")
    module = importlib.util.module_from_spec(spec_obj)
    sys.modules[module_name] = module
    # The spec's own folder is importable, so a spec may import its helpers next to it.
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec_obj.loader.exec_module(module)
    except SpecError:
        raise
    except SyntaxError as exc:
        raise SpecError(f"spec file {str(path)!r}, line {exc.lineno}: syntax error: {exc.msg}",
                        cause=exc) from exc
    except Exception as exc:
        raise SpecError(f"spec file {str(path)!r}: loading it failed with "
                        f"{type(exc).__name__}: {exc}", cause=exc) from exc
    finally:
        sys.path.pop(0)
    cls = spec_class_in(module, f"spec file {str(path)!r}")
    if cls.name.startswith("protospec_user_"):
        # Named after the file, as the user knows it; its variants were registered (and
        # named) while the module ran, before this name was known.
        cls.name = path.stem
        for variant in cls.variants().values():
            variant.name = path.stem
    return cls

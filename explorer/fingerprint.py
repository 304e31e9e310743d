"""Structural 64-bit fingerprints of states: the same number in every process and on every machine.

``fingerprint(value) -> int`` (a signed 64-bit int, never 0) is what the engine stores for a
state. It is computed from the value's structure, never from ``hash()``, addresses or set
order, so it does not depend on PYTHONHASHSEED, on which process computes it, or on the order
a frozenset was built in. Defined for:

* None, bool, int (any size), float (``-0.0`` as ``0.0``), str, bytes;
* tuple, frozenset (order-independent);
* Enum / IntEnum / StrEnum members, tagged by their class and name;
* NamedTuples and other tuple subclasses, frozenset subclasses and frozen dataclasses, tagged
  by their type (``module.qualname``), so ``A(1)`` and ``B(1)`` differ.

Every value is encoded with a kind tag and its length before it is mixed, so two values that
differ never share a fingerprint by construction (``hash(-1) == hash(-2)``-style collisions
cannot happen): only a genuine 64-bit collision can merge two states, which is what the
collision-probability estimate of a run measures. Anything else (an object hashed by identity,
a function, a list, dict or set) raises :class:`UnsupportedValue`, and :func:`find_unsupported`
names the path inside the state (``state.msgs[3].payload is a function``).

Every leaf and every composite ends with SplitMix64's finaliser (``mix``): a leaf is
``mix(value + tag * K2)``; a composite starts from ``mix(tag * K2 + length)`` (the tag is the
kind, or the type's tag), folds each part with ``h = rotl(h ^ part, 31) * K1`` and ends with
``mix(h)``; a frozenset folds one part, the wrapping sum of ``mix(element ^ K)`` over its
elements, so order does not matter.
The computation lives in a small C extension (``_fpcore.c``): built into the wheel by the
package's build, and, when protospec runs from a source checkout, compiled on first use with
the system's C compiler into a cache folder keyed by the source's hash and the Python ABI.
Without a compiler the pure-Python reference below is used (identical values, about 20x
slower) and a one-line warning says so. ``PROTOSPEC_PURE_FINGERPRINT=1`` forces it.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import importlib.util
import os
import struct
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["ZERO_FINGERPRINT", "UnsupportedValue", "collision_probability", "find_unsupported",
           "fingerprint", "fingerprint_py", "implementation"]

M64 = (1 << 64) - 1
K_MIX1 = 0xBF58476D1CE4E5B9
K_MIX2 = 0x94D049BB133111EB
K_SET = 0x9E3779B97F4A7C15
K_P1 = 0x9E3779B185EBCA87
K_P2 = 0xC2B2AE3D27D4EB4F
# A value whose mixed fingerprint is 0 gets this one: 0 marks an empty slot in the stores.
ZERO_FINGERPRINT = 0xC5B0F1E2D3A4B689 - (1 << 64)

T_NONE, T_FALSE, T_TRUE, T_INT, T_BIGINT, T_FLOAT, T_STR, T_BYTES = 1, 2, 3, 4, 5, 6, 7, 8
T_TUPLE, T_FROZENSET, T_TYPE, T_ENUM, T_RECORD = 9, 10, 11, 12, 13
K_UNSUPPORTED, K_ENUM, K_TUPLE, K_FROZENSET, K_DATACLASS = 0, 1, 2, 3, 4


class UnsupportedValue(TypeError):
    """A state holds a value that has no structural fingerprint (a function, a list, ...)."""


def collision_probability(distinct: int, generated: int) -> float:
    """TLC's optimistic estimate of a fingerprint collision: n * (m - n) / 2^64.

    n distinct states found among m generated; each of the m - n re-visits could have been
    mistaken for one of n stored fingerprints (Yu, Manolios, Lamport, CHARME 1999). Honest
    here because fingerprints are structural: only a chance 64-bit collision merges states.
    """
    if distinct <= 0:
        return 0.0
    return distinct * max(0, generated - distinct) / 2.0**64


# -- the reference algorithm (pure Python; the C extension computes the same numbers) ----------

def _mix(x: int) -> int:
    x ^= x >> 30
    x = (x * K_MIX1) & M64
    x ^= x >> 27
    x = (x * K_MIX2) & M64
    return x ^ (x >> 31)


def _start(tag: int, n: int) -> int:
    return _mix((tag * K_P2 + n) & M64)


def _fold(h: int, part: int) -> int:
    h ^= part
    h = ((h << 31) | (h >> 33)) & M64
    return (h * K_P1) & M64


def _leaf(tag: int, v: int) -> int:
    return _mix((v + tag * K_P2) & M64)


def _hash_bytes(tag: int, data: bytes) -> int:
    h = _start(tag, len(data))
    for i in range(0, len(data), 8):
        h = _fold(h, _mix(int.from_bytes(data[i:i + 8], "little")))
    return _mix(h)


def _type_tag(tp: type) -> int:
    return _hash_bytes(T_TYPE, f"{tp.__module__}.{tp.__qualname__}".encode("utf-8",
                                                                           "surrogatepass"))


def classify(tp: type) -> tuple[int, int, tuple[str, ...] | None]:
    """How values of a non-built-in type are fingerprinted: (kind, type tag, dataclass fields).

    The C extension calls this once per type and caches the answer.
    """
    if issubclass(tp, enum.Enum):
        return K_ENUM, _type_tag(tp), None
    if issubclass(tp, tuple):
        return K_TUPLE, _type_tag(tp), None
    if issubclass(tp, frozenset):
        return K_FROZENSET, _type_tag(tp), None
    if dataclasses.is_dataclass(tp) and tp.__dataclass_params__.frozen:
        names = tuple(sys.intern(f.name) for f in dataclasses.fields(tp))
        return K_DATACLASS, _type_tag(tp), names
    return K_UNSUPPORTED, 0, None


_classified: dict[type, tuple[int, int, tuple[str, ...] | None]] = {}


def _seq(tag: int, items: Any) -> int:
    h = _start(tag, len(items))
    for c in items:
        h = _fold(h, _fp(c))
    return _mix(h)


def _fp(o: Any) -> int:
    tp = type(o)
    if tp is int:
        if -(1 << 63) <= o < (1 << 63):
            return _leaf(T_INT, o & M64)
        n = o.bit_length() // 8 + 1
        return _hash_bytes(T_BIGINT, o.to_bytes(n, "little", signed=True))
    if tp is str:
        return _hash_bytes(T_STR, o.encode("utf-8", "surrogatepass"))
    if tp is tuple:
        return _seq(T_TUPLE, o)
    if o is None:
        return _leaf(T_NONE, 0)
    if o is True:
        return _leaf(T_TRUE, 0)
    if o is False:
        return _leaf(T_FALSE, 0)
    if tp is frozenset:
        return _fp_set(T_FROZENSET, o)
    if tp is float:
        d = 0.0 if o == 0.0 else o
        return _leaf(T_FLOAT, struct.unpack("<Q", struct.pack("<d", d))[0])
    if tp is bytes:
        return _hash_bytes(T_BYTES, o)
    info = _classified.get(tp)
    if info is None:
        info = _classified[tp] = classify(tp)
    kind, tag, fields = info
    if kind == K_ENUM:
        name = o._name_
        if type(name) is not str:
            raise UnsupportedValue(f"protospec cannot fingerprint a value of type {tp.__name__}")
        return _mix(_fold(_start(T_ENUM, tag), _fp(name)))
    if kind == K_TUPLE:
        return _seq(tag, o)
    if kind == K_FROZENSET:
        return _fp_set(tag, o)
    if kind == K_DATACLASS:
        return _seq(tag, [getattr(o, name) for name in fields])
    raise UnsupportedValue(f"protospec cannot fingerprint a value of type {tp.__name__}")


def _fp_set(tag: int, o: frozenset) -> int:
    acc = 0
    for c in o:
        acc = (acc + _mix(_fp(c) ^ K_SET)) & M64
    return _mix(_fold(_start(tag, len(o)), acc))


def fingerprint_py(value: Any) -> int:
    """The reference implementation of :func:`fingerprint` (pure Python, same values)."""
    h = _fp(value)
    if h == 0:
        return ZERO_FINGERPRINT
    return h - (1 << 64) if h >= 1 << 63 else h


# -- the compiled implementation ---------------------------------------------------------------

_SOURCE = Path(__file__).with_name("_fpcore.c")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "protospec" / "ext"


def build_extension(out_dir: Path, name: str | None = None) -> Path:
    """Compile ``_fpcore.c`` with the system's C compiler into ``out_dir``; return the file.

    Used on first use from a source checkout and by the wheel build hook (``hatch_build.py``).
    The file is written under a temporary name and renamed, so concurrent builds are safe.
    """
    import shlex
    import subprocess
    import tempfile

    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    target = out_dir / ((name or "_fpcore") + suffix)
    out_dir.mkdir(parents=True, exist_ok=True)
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    include = sysconfig.get_paths()["include"]
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=suffix)
    os.close(fd)
    cmd = [*cc, "-O2", "-shared", "-fPIC", f"-I{include}", str(_SOURCE), "-o", tmp]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _load_compiled() -> Any | None:
    if os.environ.get("PROTOSPEC_PURE_FINGERPRINT") == "1":
        return None
    modname = f"{__package__}._fpcore" if __package__ else "_fpcore"
    try:  # an installed wheel ships the compiled module beside this file
        from . import _fpcore  # type: ignore[attr-defined]

        return _fpcore
    except ImportError:
        pass
    try:
        digest = hashlib.sha256(_SOURCE.read_bytes()).hexdigest()[:16]
        abi = sysconfig.get_config_var("SOABI") or sys.implementation.cache_tag
        folder = _cache_dir() / f"{digest}-{abi}"
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        path = folder / ("_fpcore" + suffix)
        if not path.exists():
            build_extension(folder)
        spec = importlib.util.spec_from_file_location(modname, path)
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    except Exception as exc:  # no compiler, no headers, read-only cache: fall back, say so
        sys.stderr.write(f"protospec: note: the compiled fingerprint module is unavailable "
                         f"({type(exc).__name__}: {exc}); using the pure-Python one "
                         f"(same results, slower searches)\n")
        return None


_core = _load_compiled()
if _core is not None:
    _core.init(classify)
    fingerprint: Callable[[Any], int] = _core.fingerprint
    implementation = "c"
else:
    fingerprint = fingerprint_py
    implementation = "python"
# ``table_insert(table, keys, out)``: the shared fingerprint set of parallel search
# (``parallel_shared.py``), an atomic compare-and-swap only C offers; None without the module.
table_insert: Callable[[Any, Any, Any], int] | None = getattr(_core, "table_insert", None)


# -- naming what cannot be fingerprinted -------------------------------------------------------

def _describe(value: Any) -> str:
    if callable(value) and not isinstance(value, type):
        return "a function" if hasattr(value, "__code__") else f"a callable {type(value).__name__}"
    if isinstance(value, list):
        return "a list (use a tuple)"
    if isinstance(value, dict):
        return "a dict (use a frozenset of pairs, or a tuple of pairs)"
    if isinstance(value, set):
        return "a set (use a frozenset)"
    if dataclasses.is_dataclass(value):
        return f"a mutable dataclass {type(value).__name__} (declare it frozen=True)"
    return (f"an instance of {type(value).__qualname__}, which is compared by identity, not by "
            f"value")


def find_unsupported(value: Any, path: str = "state") -> str | None:
    """The first place inside ``value`` that cannot be fingerprinted, as a sentence such as
    ``state.msgs[3].payload is a function``; None if every part is supported."""
    tp = type(value)
    if value is None or tp in (bool, int, float, str, bytes):
        return None
    if isinstance(value, enum.Enum):
        return None
    if isinstance(value, tuple):
        fields = getattr(tp, "_fields", None)
        for i, item in enumerate(value):
            sub = f"{path}.{fields[i]}" if fields and i < len(fields) else f"{path}[{i}]"
            found = find_unsupported(item, sub)
            if found:
                return found
        return None
    if isinstance(value, frozenset):
        for item in value:
            found = find_unsupported(item, f"{path}{{{_short_repr(item)}}}")
            if found:
                return found
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type) \
            and tp.__dataclass_params__.frozen:
        for f in dataclasses.fields(value):
            found = find_unsupported(getattr(value, f.name), f"{path}.{f.name}")
            if found:
                return found
        return None
    return f"{path} is {_describe(value)}"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

"""``--config FILE``: a check configuration in TOML, the counterpart of TLC's .cfg file.

A configuration names everything that decides what a run explores and checks, so that one file
reproduces a command line exactly::

    spec = "two_phase_commit"          # a built-in name, or a .py path (relative to this file)
    variant = "tm_commits_early"       # optional: a bug variant
    invariants = [                     # declared names, "NAME: EXPR", or bare expressions
        "atomicity",
        "commit_needs_votes: 'commit' in msgs => tm_prepared == all_rms",
    ]
    action_properties = [
        "stays_committed: forall r in RM: rm_state[r] == 'committed' => unchanged(rm_state[r])",
    ]
    properties = [                     # check only: liveness and sometimes (docs/liveness.md)
        "all_decide: eventually(forall r in RM: rm_state[r] in {'committed', 'aborted'})",
    ]
    liveness = true                    # false: as --no-liveness
    constraint = "len(msgs) <= 5"     # conjoined with the spec's own constraint
    deadlock = false
    max_depth = 20                     # check only
    max_states = 1000000               # check only
    continue = false                   # keep going after a violation
    runs = 100                         # simulate only (also depth, seed)

    [params]
    rms = 3

``invariants`` and ``action_properties`` may also be tables of ``name = "expression"``.
Options given on the command line win over the file: ``-p`` per parameter, every other option
as a whole (``--inv`` replaces the file's invariant list). Keys for the other command
(``max_depth`` under ``simulate``, ``runs`` under ``check``) are ignored; unknown keys are errors.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..invariants.errors import did_you_mean

__all__ = ["CONFIG_KEYS", "add_config_argument", "apply_config", "load_config", "option_label"]

# key -> (argparse dest, commands it applies to, expected type)
CONFIG_KEYS: dict[str, tuple[str, frozenset[str], type | tuple[type, ...]]] = {
    "spec": ("spec", frozenset({"check", "simulate"}), str),
    "variant": ("variant", frozenset({"check", "simulate"}), str),
    "params": ("param", frozenset({"check", "simulate"}), dict),
    "invariants": ("inv", frozenset({"check", "simulate"}), (list, dict)),
    "action_properties": ("action_prop", frozenset({"check", "simulate"}), (list, dict)),
    "properties": ("prop", frozenset({"check"}), (list, dict)),
    "liveness": ("liveness", frozenset({"check"}), bool),
    "constraint": ("constraint", frozenset({"check", "simulate"}), str),
    "deadlock": ("deadlock", frozenset({"check", "simulate"}), bool),
    "continue": ("keep_going", frozenset({"check", "simulate"}), bool),
    "max_depth": ("max_depth", frozenset({"check"}), int),
    "max_states": ("max_states", frozenset({"check"}), int),
    "runs": ("runs", frozenset({"simulate"}), int),
    "depth": ("depth", frozenset({"simulate"}), int),
    "seed": ("seed", frozenset({"simulate"}), int),
}


_TOML_KINDS = {str: "a string", int: "an integer", bool: "true or false", dict: "a table",
               list: "an array"}


def add_config_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE",
                   help="read the spec, parameters, variant, properties, constraint and bounds "
                        "from a TOML file (command-line options win; see docs/invariants.md)")


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a configuration file (UsageError naming the file on any problem)."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"config file {str(p)!r} is a folder, not a TOML file")
    if not p.is_file():
        raise UsageError(f"config file {str(p)!r} does not exist")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read config file {str(p)!r}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UsageError(f"{p}, line {line}: not UTF-8 text (TOML files are UTF-8); byte "
                         f"{raw[exc.start]:#04x} cannot be decoded") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{p}: not valid TOML: {exc}") from None
    except RecursionError:
        raise UsageError(f"{p}: not valid TOML: arrays or tables nest too deeply") from None
    for key, value in data.items():
        if key not in CONFIG_KEYS:
            raise UsageError(f"{p}: unknown key {key!r}{did_you_mean(key, CONFIG_KEYS)} (keys: "
                             f"{', '.join(CONFIG_KEYS)})")
        expected = CONFIG_KEYS[key][2]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            kinds = expected if isinstance(expected, tuple) else (expected,)
            names = " or ".join(_TOML_KINDS[t] for t in kinds)
            raise UsageError(f"{p}: {key} must be {names}, not {value!r}")
    for key in ("invariants", "action_properties", "properties"):
        value = data.get(key)
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise UsageError(f"{p}: every entry of {key} must be a string (a declared name, "
                             f"'NAME: EXPR' or an expression)")
        if isinstance(value, dict) and not all(isinstance(v, str) for v in value.values()):
            raise UsageError(f"{p}: in the [{key}] table every value must be an expression "
                             f"string (name = \"expression\")")
    return data


def apply_config(args: argparse.Namespace, command: str,
                 defaults: dict[str, Any] | None = None) -> None:
    """Fill in ``args`` from ``args.config`` where the command line left an option unset.

    Then apply ``defaults`` (for options whose argparse default is None so that "not given"
    can be told apart from "given"). Records in ``args.config_origins`` which property values
    came from the file, so that error messages can point there.
    """
    args.config_origins = {}
    path = getattr(args, "config", None)
    if path:
        data = load_config(path)
        base = Path(path).resolve().parent
        for key, value in data.items():
            dest, commands, _ = CONFIG_KEYS[key]
            if command not in commands:
                continue
            _apply(args, key, dest, value, path, base)
        if getattr(args, "spec", None) is None:
            raise UsageError(f"{path}: no spec: set spec = \"NAME\" in the file or give SPEC on "
                             f"the command line")
        if data.get("params"):
            _check_params(args, data["params"], path)
    for dest, value in (defaults or {}).items():
        if getattr(args, dest, None) is None:
            setattr(args, dest, value)
    if getattr(args, "spec", None) is None:
        raise UsageError(f"protospec {command}: name a SPEC (see `protospec list`), or give "
                         f"--config FILE naming one")


def _apply(args: argparse.Namespace, key: str, dest: str, value: Any, path: str,
           base: Path) -> None:
    current = getattr(args, dest, None)
    if key == "params":
        # Parameters merge one by one, the command line's -p after the file's (it wins).
        items = [f"{name}={_param_text(v, path, name)}" for name, v in value.items()]
        args.param = items + list(current or [])
        args.params_from_config = len(items)
        return
    if key == "continue":
        if not current:
            args.keep_going = value
        return
    if current is not None:
        return  # given on the command line
    if key == "spec":
        if value.endswith(".py") or "/" in value:
            value = str((base / value).resolve())
        args.spec = value
    elif key in ("invariants", "action_properties", "properties"):
        entries = list(value) if isinstance(value, list) else \
            [f"{name}: {expr}" for name, expr in value.items()]
        setattr(args, dest, entries)
        for i in range(len(entries)):
            args.config_origins[(dest, i)] = f"{path}, {key}"
    elif key == "constraint":
        args.constraint = value
        args.config_origins[("constraint", 0)] = f"{path}, constraint"
    else:
        setattr(args, dest, value)
        args.config_origins[dest] = f"{path}, {key}"


def option_label(args: argparse.Namespace, dest: str) -> str:
    """How to name an option's value in a message: ``--max-depth``, or ``FILE, max_depth``
    when the value came from the --config file."""
    origin = getattr(args, "config_origins", {}).get(dest)
    return origin if origin else "--" + dest.replace("_", "-")


def _check_params(args: argparse.Namespace, params: dict[str, Any], path: str) -> None:
    """Parse the file's parameters now, so that a mistake in them names the file."""
    from ..loader import load_spec  # local: only a config with parameters needs the spec now
    from .common import parse_params

    cls = load_spec(args.spec).with_variant(getattr(args, "variant", None))
    try:
        parse_params(cls, [f"{k}={_param_text(v, path, k)}" for k, v in params.items()])
    except UsageError as exc:
        raise UsageError(f"{path}, [params]: {exc}") from None


def _param_text(value: Any, path: str, name: str) -> str:
    """A TOML value as the text ``-p name=TEXT`` would give, so both go through one parser."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, list):
        return repr(tuple(value))
    raise UsageError(f"{path}: parameter {name!r}: a table is not a parameter value")

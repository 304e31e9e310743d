"""Wheel build hook: compile the fingerprint C extension (``explorer/_fpcore.c``) into the wheel.

The extension is one C file with no dependency beyond Python's headers, so it is compiled with
the interpreter's own C compiler settings (``sysconfig``) rather than through setuptools. If no
compiler is available the wheel is built without it, and protospec falls back at run time to
compiling on first use or to the pure-Python reference (same fingerprints, slower).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        source = os.path.join(self.root, "explorer", "_fpcore.c")
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        out_dir = tempfile.mkdtemp(prefix="protospec-build-")
        target = os.path.join(out_dir, "_fpcore" + suffix)
        cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
        cmd = [*cc, "-O2", "-shared", "-fPIC", f"-I{sysconfig.get_paths()['include']}",
               source, "-o", target]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as exc:
            sys.stderr.write(f"protospec: building the fingerprint extension failed ({exc}); "
                             f"the wheel will compile it on first use instead\n")
            return
        build_data["force_include"][target] = "protospec/explorer/_fpcore" + suffix
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

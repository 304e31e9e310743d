"""``protospec explore``: a local web app to step through a spec's states (see explorer/web)."""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import UsageError
from ...itf import read_trace
from ..common import add_spec_arguments, instantiate
from ..properties import add_property_arguments, apply_property_arguments, print_explanations


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explore", help="step through a spec's states in the browser",
        description="Serve a local web page (on 127.0.0.1) to step through SPEC by hand: the "
                    "current state with its changes, the enabled steps as buttons, the path "
                    "as a message sequence chart, every invariant's value; go back, jump, "
                    "take a random step, run a breadth-first search to the shortest violation "
                    "from here, load or download ITF traces, share the path as a link. "
                    "Ctrl-C stops it (exit 0).")
    add_spec_arguments(p)
    add_property_arguments(p)
    p.add_argument("--trace", metavar="FILE",
                   help="start on this ITF trace (e.g. from `check --trace-out`), at its step 0; "
                        "without -p/--variant the trace's own parameters and variant are used")
    p.add_argument("--port", type=int, default=0, metavar="N",
                   help="the port to serve on (default: a free one)")
    p.add_argument("--no-browser", action="store_true",
                   help="print the address but do not open a browser")
    p.add_argument("--max-states", type=int, metavar="N", default=1_000_000,
                   help="bound the 'run to violation' search to N distinct states (default "
                        "1,000,000, so that the page answers within a minute or so)")
    p.set_defaults(func=run)


def prepare(args: argparse.Namespace) -> Any:
    """Everything before serving: the spec, the trace, the Flask app (UsageError if wrong)."""
    from ...web.app import create_app
    from ...web.walk import Walk, WalkError

    if args.port is not None and not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    if args.max_states is not None and args.max_states < 1:
        raise UsageError(f"--max-states must be a positive number, got {args.max_states}")
    trace_data = None
    if args.trace:
        trace, _meta = read_trace(args.trace)  # read_trace validates the file
        if args.spec is None:
            args.spec = trace.spec or None
        if not args.param and not args.variant:
            args.param = [f"{k}={v if isinstance(v, str) else repr(v)}"
                          for k, v in trace.params.items()]
            args.variant = trace.variant
        trace_data = json.loads(Path(args.trace).read_text(encoding="utf-8"))

    def make_spec() -> Any:
        spec = instantiate(args)
        apply_property_arguments(spec, args)
        return spec

    walk = Walk(make_spec)
    start = None
    if trace_data is not None:
        try:
            start = walk.fit_itf(trace_data)
        except WalkError as exc:
            raise UsageError(f"--trace {args.trace}: {exc}") from None
    return create_app(walk, start=start, search_max_states=args.max_states)


def run(args: argparse.Namespace, *, opener: Callable[[str], Any] = webbrowser.open) -> int:
    from werkzeug.serving import make_server

    if args.explain_inv:  # as for check: explain the expressions, serve nothing
        return print_explanations(instantiate(args), args)
    app = prepare(args)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    # The socket is bound here, not by Werkzeug, which reports a busy port by exiting itself.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", args.port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot serve on 127.0.0.1:{args.port}: {exc.strerror}") from None
    server = make_server("127.0.0.1", sock.getsockname()[1], app, threaded=True,
                         fd=sock.fileno())
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    try:
        print(f"protospec explore: serving {args.spec} at {url} (Ctrl-C stops)", flush=True)
        if not args.no_browser:
            # In a thread: a browser command may wait until its window closes, and the page
            # must be served meanwhile.
            threading.Thread(target=opener, args=(url,), daemon=True).start()
        server.serve_forever()
    except KeyboardInterrupt:
        print("protospec explore: stopped", file=sys.stderr, flush=True)
    finally:
        server.server_close()
        sock.close()
    return 0

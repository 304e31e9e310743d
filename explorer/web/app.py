"""The explorer's web app: Flask routes over a Walk; every page is rendered on the server.

The path being explored lives in the URL (``/?s=0&s=tm_commit()&s=...&at=2``): each step is a
link, so stepping, going back, jumping to an earlier step and sharing the path are plain
navigation, the browser's own back button works, and the page needs no script at all. The
server keeps nothing between requests except the spec configuration and, for
``--trace FILE``, the path of the trace it was started with.

Routes:

* ``GET /`` — the page for step ``at`` of path ``s`` (the start, or the trace given at start-up);
* ``GET /random`` — a random enabled step from step ``at``, then the page after it;
* ``GET /search`` — the engine's breadth-first check from the state at step ``at``, then the
  page at the end of the shortest violating path (or the page with "no violation reachable");
* ``GET /trace.itf.json`` — steps 0..``at`` as an ITF trace file (with chart hints);
* ``POST /load`` — an uploaded ITF trace, fitted to the spec: its page at step 0.

Nothing on the page comes from the network: styles are one local file, the chart is inline SVG.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, redirect, render_template, request, url_for

from ..itf import trace_to_itf
from .view import page_view
from .walk import Walk, WalkError, search_from

__all__ = ["create_app"]

HERE = Path(__file__).parent


def create_app(walk: Walk, *, start: list[str] | None = None,
               search_max_states: int | None = None,
               rng: Callable[[int], int] | None = None) -> Flask:
    """The Flask app exploring ``walk``'s spec configuration.

    ``start`` is the path shown at ``/`` without a query (a loaded trace, at its step 0);
    ``search_max_states`` bounds "run to violation"; ``rng(n)`` picks the random step (tests
    pass their own).
    """
    app = Flask(__name__, static_folder=str(HERE / "static"),
                template_folder=str(HERE / "templates"))
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    pick = rng or (lambda n: random.randrange(n))

    def path_args() -> tuple[list[str], int | None]:
        tokens = request.args.getlist("s")
        at = request.args.get("at", type=int)
        return tokens, at

    def page_url(tokens: list[str], at: int | None = None) -> str:
        return url_for("page", s=tokens, at=at)

    def show(tokens: list[str], at: int | None, *, message: str | None = None,
             error: str | None = None, status: int = 200) -> Any:
        try:
            view = page_view(walk, tokens, at)
        except WalkError as exc:
            view = page_view(walk, [], 0)
            error, status = f"This path does not fit the spec: {exc}", 400
        base = view.tokens[: view.at + 1]
        share = request.host_url.rstrip("/") + page_url(view.tokens, view.at)
        html = render_template(
            "explore.html", v=view, message=message, error=error, share_url=share,
            step_url=lambda token: page_url(base + [token]),
            jump_url=lambda i: page_url(view.tokens, i),
            action_url=lambda name: url_for(name, s=base, at=view.at))
        return html, status

    @app.get("/")
    def page() -> Any:
        tokens, at = path_args()
        if not tokens and start is not None and "at" not in request.args:
            return redirect(page_url(start, 0))
        return show(tokens, at)

    @app.get("/random")
    def random_step() -> Any:
        tokens, at = path_args()
        try:
            view = page_view(walk, tokens, at, draw=False)
        except WalkError as exc:
            return show([], 0, error=str(exc), status=400)
        if not view.choices:
            return show(view.tokens, view.at, message="No step is enabled in this state.")
        choice = view.choices[pick(len(view.choices))]
        return redirect(page_url(view.tokens[: view.at + 1] + [choice.token]))

    @app.get("/search")
    def search() -> Any:
        tokens, at = path_args()
        try:
            steps = walk.replay(tokens)
        except WalkError as exc:
            return show([], 0, error=str(exc), status=400)
        at = len(steps) - 1 if at is None else max(0, min(at, len(steps) - 1))
        base = (tokens or ["0"])[: at + 1]
        found = search_from(walk, steps[at].state, max_states=search_max_states)
        if found.property is None:
            scope = ("every state reachable from here was explored" if found.complete else
                     f"the search stopped after {found.distinct_states:,} states")
            return show(base, at, message=f"No violation is reachable from step {at} "
                                          f"({found.distinct_states:,} states; {scope}).")
        more = walk.tokens_of(found.steps)[1:]
        return redirect(page_url(base + more, at + len(more)))

    @app.get("/trace.itf.json")
    def download() -> Any:
        tokens, at = path_args()
        try:
            view = page_view(walk, tokens, at, draw=False)
        except WalkError as exc:
            return show([], 0, error=str(exc), status=400)
        steps = walk.replay(view.tokens[: view.at + 1])
        bad = next((p.name for p in view.violated), None)
        data = trace_to_itf(walk.trace(steps), violation=bad)
        name = f"{view.spec}{'-' + view.variant if view.variant else ''}-step{view.at}.itf.json"
        return Response(json.dumps(data, indent=1) + "\n", mimetype="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.post("/load")
    def load() -> Any:
        upload = request.files.get("trace")
        if upload is None or not upload.filename:
            return show([], 0, error="Choose an ITF trace file (.json) to load.", status=400)
        try:
            data = json.loads(upload.read().decode("utf-8"))
            tokens = walk.fit_itf(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return show([], 0, error=f"{upload.filename} is not a JSON file: {exc}",
                        status=400)
        except WalkError as exc:
            return show([], 0, error=f"{upload.filename}: {exc}", status=400)
        return redirect(page_url(tokens, 0))

    return app

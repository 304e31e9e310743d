"""``protospec explore``: step through a spec's states in the browser (walk, view, app).

``walk.py`` replays, fits and searches paths through the Spec API and the engine's ``check``;
``view.py`` turns one step of a path into what the page shows; ``app.py`` serves it with Flask.
Only ``app.py`` imports Flask; the engine imports nothing from here.
"""

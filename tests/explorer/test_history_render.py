"""Pictures of a history: the text timeline's marks, and SVG that parses."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from protospec.explorer.history import check_linearizable, get_model, minimal_window, parse_history
from protospec.explorer.history.render import Picture, render_html, render_svg, render_text

# p0 writes 1; p1 writes 2 and reads 2; p2 reads 1 afterwards; p3's write never completes.
LOG = ["0\t:invoke\t:write\t1", "0\t:ok\t:write\t1",
       "1\t:invoke\t:write\t2", "3\t:invoke\t:write\t3", "1\t:ok\t:write\t2",
       "1\t:invoke\t:read\tnil", "1\t:ok\t:read\t2",
       "2\t:invoke\t:read\tnil", "2\t:ok\t:read\t1"]


def _picture() -> Picture:
    h = parse_history(LOG)
    model = get_model("cas-register")
    result = check_linearizable(h, model)
    return Picture(h.ops, model, title="t", furthest=result.furthest)


def test_text_timeline_numbers_the_furthest_order_and_marks_the_stuck_op() -> None:
    text = render_text(_picture())
    lanes = {line.split()[0]: line for line in text.splitlines() if line.startswith("p")}
    assert set(lanes) >= {"p0", "p1", "p2", "p3"}
    assert "[#1 w 1" in lanes["p0"]
    assert "[!! r → 1" in lanes["p2"]
    assert lanes["p3"].rstrip().endswith(">")  # open: may take effect any time later


def test_text_timeline_keeps_real_time_order() -> None:
    text = render_text(_picture())
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith("p")}
    # p2's read starts after p1's read ends.
    assert rows["p2"].index("[") > rows["p1"].rindex("]")


def test_svg_parses_and_html_embeds_it() -> None:
    h = parse_history(LOG)
    result = check_linearizable(h, get_model("cas-register"))
    window = minimal_window(result)
    picture = Picture(window.ops, get_model("cas-register"), furthest=window.furthest,
                      starts=window.starts, context=h.ops)
    svg = render_svg(picture)
    assert ET.fromstring(svg).tag.endswith("svg")
    assert "can leave the state as: 2" in svg
    assert render_svg(picture) in render_html(picture)

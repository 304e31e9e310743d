"""Errors of the invariant language: where in the expression, what is wrong, what was meant.

An ``ExpressionError`` is a ``UsageError``: the user's expression is wrong, not the spec, so
the CLI prints it and exits 2. Its text names the property, the line and column, shows the
offending line with carets under the offending words, and suggests a close name if there is
one. An ``EvaluationError`` is a ``SpecError`` raised while checking: the expression compiled,
but evaluating it raised on some reachable state (an index out of range, a missing field); the
message names the sub-expression, the bound variables and the state.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from ..errors import SpecError, UsageError

__all__ = ["EvaluationError", "ExpressionError", "did_you_mean", "line_col", "snippet"]


def line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of character offset ``pos`` in ``text``."""
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def snippet(text: str, start: int, end: int | None = None) -> str:
    """The source line holding ``start``, with carets under ``start:end`` (on that line)."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    if line_end < 0:
        line_end = len(text)
    line = text[line_start:line_end]
    stop = line_end if end is None else min(max(end, start + 1), line_end)
    width = max(1, stop - start)
    # Tabs keep their place so the caret lines up under the same character.
    pad = "".join("\t" if c == "\t" else " " for c in line[:start - line_start])
    return f"  {line}\n  {pad}{'^' * width}"


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string."""
    pool = sorted(set(candidates))
    close = difflib.get_close_matches(word, pool, n=2, cutoff=0.6)
    if not close:
        lower = {c.lower(): c for c in pool}
        close = [lower[word.lower()]] if word.lower() in lower else []
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


class ExpressionError(UsageError):
    """A syntax, name or type error in an expression, located at ``span`` of ``text``."""

    def __init__(self, message: str, text: str = "", span: tuple[int, int] | None = None,
                 where: str = "") -> None:
        self.message = message
        self.text = text
        self.span = span
        self.where = where
        super().__init__(self._render())

    def located(self, where: str) -> ExpressionError:
        """The same error, saying which property (or option) the expression belongs to."""
        if not self.where:
            self.where = where
            self.args = (self._render(),)
        return self

    def _render(self) -> str:
        head = self.where + ": " if self.where else ""
        if self.span is None or not self.text:
            return head + self.message
        line, col = line_col(self.text, self.span[0])
        return (f"{head}line {line}, column {col}: {self.message}\n"
                f"{snippet(self.text, self.span[0], self.span[1])}")

    def __str__(self) -> str:
        return self.args[0] if self.args else self.message


class EvaluationError(SpecError):
    """An expression raised while being evaluated on a reachable state or step."""

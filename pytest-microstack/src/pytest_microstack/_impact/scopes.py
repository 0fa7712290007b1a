"""The function a changed line belongs to: the unit a change is attributed to.

A line inside a function's body changes what that function does when it runs,
so the tests that ran any line of that body (in BASE, as recorded) are the ones
it can change. A line anywhere else (imports, constants, class bodies,
decorators, a def's own line with its defaults) runs when the module is
imported, outside any test: `import_time` follows it to the tests that read it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """A function body: its qualified name and its lines (first body line to last)."""

    name: str
    first: int
    last: int


def function_bodies(source: str | ast.Module) -> list[Scope]:
    """Every function's body in `source` (or its tree), nested ones too; raises SyntaxError as `ast` does."""
    found: list[Scope] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.stmt | ast.excepthandler | ast.match_case):
                continue  # a def is a statement: expressions hold none
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                found.append(Scope(name, child.body[0].lineno, child.end_lineno or child.body[-1].lineno))
                visit(child, f"{name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source) if isinstance(source, str) else source, "")
    return found


def innermost(scopes: list[Scope], line: int) -> Scope | None:
    """The innermost function body holding `line`; None: the line runs at import (module level)."""
    holding = [scope for scope in scopes if scope.first <= line <= scope.last]
    return min(holding, key=lambda scope: scope.last - scope.first) if holding else None


def code_lines(source: str) -> set[int]:
    """Lines that hold code (a string literal's lines too): a change to any other line
    (blank, or a comment alone) changes nothing that runs."""
    import io
    import tokenize

    quiet = {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
    }
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in quiet:
            lines.update(range(token.start[0], token.end[0] + 1))
    return lines

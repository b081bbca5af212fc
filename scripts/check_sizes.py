"""Keep the house readable: no module in ``ictplan/`` over 800 lines, no function over 80
(docstrings not counted).

Run by ``make lint``; prints every offender and exits 1 when there is one.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 80


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the ``def`` to the end, without the docstring (documentation is welcome)."""
    body = node.body
    doc = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        doc = (body[0].end_lineno or body[0].lineno) - body[0].lineno + 1
    return (node.end_lineno or node.lineno) - node.lineno + 1 - doc


def offenders(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        if n > MAX_MODULE_LINES:
            found.append(f"{path}: {n} lines (at most {MAX_MODULE_LINES}); split it by concern")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = _code_lines(node)
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{path}:{node.lineno}: {node.name}() is {length} lines "
                                 f"(at most {MAX_FUNCTION_LINES}); split it into steps")
    return found


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "ictplan")
    found = offenders(root)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

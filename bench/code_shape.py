"""Where the services' logic sits: figures of issue 24, printed, never asserted.

    python bench/code_shape.py

- the longest route function (a function under `api/` carrying a route decorator);
- `outbox.stage`/`stage_in` and `commit()` calls left in `api/` modules (target 0);
- hand-written idempotency replays (`IdempotentRequest` used in a service, target 0);
- refusal adapters: `except …Refused` blocks in a service (target 0).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = sorted((ROOT / "services").glob("*/*/api"))
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete"}


def _is_route(fn: ast.AST) -> bool:
    for deco in getattr(fn, "decorator_list", []):
        call = deco.func if isinstance(deco, ast.Call) else deco
        if isinstance(call, ast.Attribute) and call.attr in ROUTE_DECORATORS:
            return True
    return False


def _routes(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and _is_route(node):
            # Lines of the function itself, from `def` to its end (decorators aside).
            yield node.name, node.end_lineno - node.lineno + 1


def _count(paths, pattern: str) -> int:
    regex = re.compile(pattern)
    return sum(len(regex.findall(p.read_text())) for p in paths)


def main() -> None:
    api_files = [p for d in SERVICES for p in d.rglob("*.py")]
    service_files = [
        p for d in (ROOT / "services").glob("*/*") if d.is_dir() for p in d.rglob("*.py")
    ]
    routes = [
        (length, f"{p.relative_to(ROOT)}:{name}") for p in api_files for name, length in _routes(p)
    ]
    routes.sort(reverse=True)
    lengths = sorted(length for length, _ in routes)
    print(f"route functions: {len(routes)}, median {lengths[len(lengths) // 2]} lines")
    for length, where in routes[:5]:
        print(f"  {length:4d} lines  {where}")
    figures = {
        "outbox stage calls in api/": _count(api_files, r"outbox\.stage(?:_in)?\("),
        "commit calls in api/": _count(api_files, r"\.commit\(\)"),
        "hand-written idempotency replays": _count(service_files, r"IdempotentRequest"),
        "refusal adapters (except …Refused)": _count(service_files, r"except \w*Refused"),
    }
    for name, figure in figures.items():
        print(f"{name}: {figure}")


if __name__ == "__main__":
    main()

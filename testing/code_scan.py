"""Reading the project's own source in tests: who writes a model's ``state``."""

from __future__ import annotations

import ast


def state_writes(tree: ast.AST, writer: str) -> list[tuple[str, int, str]]:
    """(enclosing function, line, what) for each assignment of a ``state`` attribute and each
    ``update``/``create``/``bulk_update`` call given a ``state`` keyword; an assignment of
    ``<writer>(...).state`` (the writer's own answer) is not a write."""
    found = []

    def visit(node: ast.AST, func: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            func = node.name
        if isinstance(node, ast.Assign):
            targets = [
                t
                for target in node.targets
                for t in (target.elts if isinstance(target, ast.Tuple) else [target])
            ]
            value = node.value
            from_writer = (
                isinstance(value, ast.Attribute)
                and isinstance(value.value, ast.Call)
                and getattr(value.value.func, "id", "") == writer
            )
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "state" and not from_writer:
                    found.append((func, node.lineno, "assign"))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"update", "create", "bulk_update", "update_or_create"}
            and any(k.arg == "state" for k in node.keywords)
        ):
            found.append((func, node.lineno, node.func.attr))
        for child in ast.iter_child_nodes(node):
            visit(child, func)

    visit(tree, "")
    return found

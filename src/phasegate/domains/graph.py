"""The dependency graph of domains: cycles, and an order that puts dependencies first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def find_cycle(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """One dependency cycle (its domains in order), or [] when there is none."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(edges):
        if state.get(start):
            continue
        path: list[str] = [start]
        stack = [iter(sorted(edges.get(start, ())))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(edges.get(nxt, ()))))
    return []


def order(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """Every domain after the domains it depends on (the graph has no cycle)."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for needed in edges.get(name, ()):
            visit(needed)
        done.append(name)

    for name in edges:
        visit(name)
    return done


def needed_by(edges: Mapping[str, Sequence[str]], names: Sequence[str]) -> list[str]:
    """``names`` and every domain they depend on, directly or not, dependencies first."""
    wanted: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(edges.get(name, ()))
    return [name for name in order(edges) if name in wanted]

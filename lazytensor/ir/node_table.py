"""Tables keyed by IR node identity whose entries die with their node.

weakref.WeakSet and WeakKeyDictionary answer membership in Python code; autograd asks
several times per op, so these key a plain dict by id() and drop an entry from the
node's weakref callback (which runs before the id can be reused)."""
from __future__ import annotations

import weakref
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class NodeTable(Generic[V]):
    def __init__(self):
        self._values: dict[int, tuple[weakref.ref, V]] = {}

    def __setitem__(self, node: Any, value: V) -> None:
        key = id(node)
        entry = self._values.get(key)
        ref = entry[0] if entry is not None else weakref.ref(node, lambda _, k=key: self._values.pop(k, None))
        self._values[key] = (ref, value)

    def get(self, node: Any, default: V | None = None) -> V | None:
        entry = self._values.get(id(node))
        return default if entry is None else entry[1]

    def __contains__(self, node: Any) -> bool:
        return id(node) in self._values

    def pop(self, node: Any) -> None:
        self._values.pop(id(node), None)

    def __len__(self) -> int:
        return len(self._values)

    def __bool__(self) -> bool:  # asked per op recorded (is autograd following anything?)
        return bool(self._values)


class NodeSet:
    def __init__(self):
        self._table: NodeTable[None] = NodeTable()

    def add(self, node: Any) -> None:
        if node not in self._table:
            self._table[node] = None

    def __contains__(self, node: Any) -> bool:  # asked per op recorded: the dict itself
        return id(node) in self._table._values

    def ids(self) -> dict[int, Any]:
        """The live table behind the set, keyed by id(node): `id(n) in set.ids()` is membership
        without a method call (the dict is never replaced)."""
        return self._table._values

    def __len__(self) -> int:
        return len(self._table)

    def __bool__(self) -> bool:
        return bool(self._table._values)

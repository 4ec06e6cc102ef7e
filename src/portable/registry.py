"""Explicit registries of lazily imported plug-ins.

Each axis (frontends, converters, runtimes) is one table of ``"module:attr"`` strings plus an
entry-point group for third parties. Nothing is imported until it is looked up, so importing
``portable`` imports no optional dependency.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from .errors import UnknownNameError


class Registry:
    """A name -> lazily imported object table.

    Examples
    --------
    >>> r = Registry("thing", group="portable.things", builtins={"json": "json:dumps"})
    >>> r.get("json")([1])
    '[1]'
    """

    def __init__(self, kind: str, *, group: str, builtins: dict[str, str]):
        self.kind = kind
        self.group = group
        self._builtins = dict(builtins)
        self._loaded: dict[str, Any] = {}

    def _table(self) -> dict[str, str]:
        table = dict(self._builtins)
        try:
            for ep in entry_points(group=self.group):
                table.setdefault(ep.name, ep.value)
        except Exception:  # pragma: no cover - broken third-party metadata must not break us
            pass
        return table

    def names(self) -> list[str]:
        return sorted(self._table())

    def __contains__(self, name: str) -> bool:
        return name in self._table()

    def get(self, name: str) -> Any:
        if name in self._loaded:
            return self._loaded[name]
        table = self._table()
        if name not in table:
            raise UnknownNameError(
                f"Unknown {self.kind} {name!r}. Known: {', '.join(sorted(table))}.")
        module, _, attr = table[name].partition(":")
        obj = importlib.import_module(module)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
        self._loaded[name] = obj
        return obj

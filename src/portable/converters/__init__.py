"""Converters: emit one target format from an ``ir.Model``.

Each converter is a class with:

* ``name`` (the ``--format`` value), ``route`` ("graph", "document" or "code"),
  ``default_runtime`` (a name in ``portable.runtimes.RUNTIMES``),
* ``supports``: frozenset of IR step kinds it can emit (``"tree_ensemble"``, ``"linear"``,
  ``"scaler"``, ``"imputer"``, ``"one_hot"``, ``"column_transformer"``),
* ``convert(self, model: ir.Model, **options) -> dict[str, bytes]``: the artifact's files
  (relative path -> content), deterministic for the same model and options. It raises
  ``UnsupportedFeatureError`` for a model it cannot express.
"""

from __future__ import annotations

from ..registry import Registry

CONVERTERS = Registry("format", group="portable.converters", builtins={
    "c": "portable.converters.code.c:CConverter",
    "java": "portable.converters.code.java:JavaConverter",
    "javascript": "portable.converters.code.javascript:JavaScriptConverter",
    "onnx": "portable.converters.onnx:OnnxConverter",
    "pfa": "portable.converters.pfa:PfaConverter",
    "pmml": "portable.converters.pmml:PmmlConverter",
    "python": "portable.converters.code.python:PythonConverter",
})

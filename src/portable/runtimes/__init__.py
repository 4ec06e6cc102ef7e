"""Runtimes: load an artifact folder and predict with one engine.

Each runtime is a class with:

* ``name`` (the ``--runtime`` value), ``formats``: tuple of converter names it runs,
* ``available() -> str | None`` (classmethod): None when usable, else why not (missing
  package or toolchain, with the install command),
* ``load(artifact) -> Session`` (from ``_base.Runtime``: reads the folder, checks
  ``available()``, then calls the runtime's ``open(artifact)``), where ``Session`` has
  ``predict(X, output="prediction") -> 2-D numpy array`` with the same contract as
  ``portable.evaluate`` and ``close()``.
"""

from __future__ import annotations

from ..registry import Registry

RUNTIMES = Registry("runtime", group="portable.runtimes", builtins={
    "cpython": "portable.runtimes.python:PythonRuntime",
    "gcc": "portable.runtimes.c:CRuntime",
    "jpmml": "portable.runtimes.jpmml:JpmmlRuntime",
    "jvm": "portable.runtimes.java:JavaRuntime",
    "node": "portable.runtimes.node:NodeRuntime",
    "onnxruntime": "portable.runtimes.onnxruntime:OnnxRuntime",
    "titus": "portable.runtimes.titus:TitusRuntime",
})

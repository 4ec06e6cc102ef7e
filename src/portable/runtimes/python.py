"""CPython: runs ``--format python`` artifacts by importing the generated package.

The package is imported from the artifact folder under a name unique to the session
(``portable_model`` with a counter), so several exported models live in one process
without shadowing each other, and nothing is added to ``sys.path``.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys

import numpy as np

from ..errors import ArtifactError, InputError, RuntimeUnavailableError
from ._base import Runtime
from ._subprocess import MARGIN, out_kind, read_native, rows, unknown_category

_COUNTER = itertools.count()


class PythonRuntime(Runtime):
    """Runtime "cpython" for the "python" format.

    Examples
    --------
    >>> session = portable.load("out/python")        # doctest: +SKIP
    >>> session.predict(X)                           # doctest: +SKIP
    """

    name = "cpython"
    formats = ("python",)

    @classmethod
    def available(cls) -> str | None:
        return None  # the interpreter running portable runs the model

    def open(self, artifact) -> "PythonSession":
        meta = read_native(artifact, "python")
        return PythonSession(import_package(artifact.file(meta["package"])),
                             artifact.signature, meta)


def import_package(folder):
    """Import the generated package in ``folder`` under a fresh module name."""
    init = os.path.join(folder, "__init__.py")
    if not os.path.isfile(init):
        raise ArtifactError(f"{str(folder)!r} holds no generated Python package.")
    name = f"portable_model_{os.getpid()}_{next(_COUNTER)}"
    spec = importlib.util.spec_from_file_location(name, init,
                                                  submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the package's relative imports look it up here
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    return module


class PythonSession:
    """The imported package behind ``predict(X, output=...)``."""

    engine = "cpython"

    def __init__(self, module, signature, meta: dict):
        self.module, self.signature, self.meta = module, signature, meta
        self._dtype = np.float32 if meta["output_dtype"] == "float32" else np.float64
        self._width = (meta["n_margin"], meta["n_prediction"])

    def predict(self, X, output: str = "prediction") -> np.ndarray:
        """Predict ``X`` (2-D rows, a 1-D row, or a DataFrame); a 2-D array in the model's
        dtype."""
        kind = out_kind(output)
        if self.module is None:
            raise RuntimeUnavailableError("This session is closed.")
        Xnum, strings = rows(self.signature, self.meta, X)
        batch = Xnum.tolist()
        if strings is not None:
            for r, srow in zip(batch, strings):
                for j, flag in enumerate(self.meta["string_columns"]):
                    if flag:
                        r[j] = srow[j]
        try:
            out = self.module.predict_batch(batch, "margin" if kind == MARGIN else "prediction")
        except self.module.UnknownCategory as e:
            raise unknown_category(self.signature, e.row or 0, e.column) from None
        except (TypeError, ValueError) as e:  # pragma: no cover - rows() validated them
            raise InputError(f"The generated Python model rejected the rows: {e}") from None
        width = self._width[0] if kind == MARGIN else self._width[1]
        return np.array(out, dtype=self._dtype).reshape(len(batch), width)

    def close(self) -> None:
        name = getattr(self.module, "__name__", None)
        self.module = None
        if name:
            for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
                del sys.modules[key]

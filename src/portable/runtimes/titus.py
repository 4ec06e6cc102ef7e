"""titus2: runs ``model.pfa`` (JSON) / ``model.pfa.yaml`` artifacts, one record at a time.

titus2 1.2.0 does not import on Python 3.11 / numpy 2 as released. Before importing it,
:func:`apply_shims` adds what it needs, never replacing anything that exists:

* ``inspect.getargspec`` (removed in Python 3.11; titus's ``@case`` decorators call it at
  import time): set to ``inspect.getfullargspec``, whose result starts with the same
  ``args, varargs, varkw, defaults`` fields.
* ``numpy.float_`` (removed in numpy 2.0; titus.datatype refers to it at import time):
  set to ``numpy.float64``, which it was an alias of.

Both are process-wide attributes (there is no other way to make titus import) and only
ever added when missing, so code that already worked sees no change. Installed packages
are never edited. titus code paths that portable's documents do not use still refer to
other removed numpy names (``numpy.in1d``, ``numpy.unique1d`` in titus.producer); they
are not patched.

Evaluation is per record (titus has no batch API): ``predict`` loops over the rows, with
titus's warnings silenced (it warns on every Avro schema it parses, i.e. on every
comparison). Building an engine raises Python's recursion limit for the duration of the
build only: titus decodes the nested TreeNode records of deep trees recursively.
"""

from __future__ import annotations

import inspect
import json
import sys
import warnings

import numpy as np

from ..errors import ArtifactError, InputError, RuntimeUnavailableError
from ..ir.evaluate import OUTPUTS, prepare_input
from ._base import Runtime

FILES = ("model.pfa", "model.pfa.yaml")
INSTALL = 'The "titus" runtime needs titus2 (and PyYAML): pip install "portable[pfa]".'
_BUILD_RECURSION = 20000  # enough for trees about 2000 levels deep (measured)


def apply_shims() -> list[str]:
    """Add the attributes titus2 needs on Python 3.11+ / numpy 2; return what was added."""
    added = []
    if not hasattr(inspect, "getargspec"):
        inspect.getargspec = inspect.getfullargspec
        added.append("inspect.getargspec")
    if not hasattr(np, "float_"):
        # numpy 2 raises AttributeError for the removed alias unless the module gets one.
        np.float_ = np.float64
        added.append("numpy.float_")
    return added


class TitusRuntime(Runtime):
    """Runtime "titus" for the "pfa" format.

    Examples
    --------
    >>> session = portable.load("out/pfa")       # doctest: +SKIP
    >>> session.predict(X)                       # doctest: +SKIP
    """

    name = "titus"
    formats = ("pfa",)

    @classmethod
    def available(cls) -> str | None:
        from importlib.util import find_spec

        missing = [m for m in ("titus", "yaml") if find_spec(m) is None]
        return f"{INSTALL} Missing: {', '.join(missing)}." if missing else None

    def open(self, artifact) -> "TitusSession":
        """Open ``artifact`` (an ``Artifact`` or a folder path) and build the engine."""
        for name in FILES:
            path = artifact.file(name)
            if path.is_file():
                return TitusSession(path.read_text(encoding="utf-8"), artifact.signature,
                                    yaml=name.endswith(".yaml"))
        raise ArtifactError(f"{str(artifact.path)!r} has neither {' nor '.join(FILES)}.")


class TitusSession:
    """A titus2 ``PFAEngine`` behind the ``predict(X, output=...)`` contract."""

    def __init__(self, document: str, signature, *, yaml: bool = False):
        apply_shims()
        try:
            from titus.genpy import PFAEngine
        except ImportError:
            raise RuntimeUnavailableError(INSTALL) from None
        self.signature = signature
        try:
            if yaml:
                import yaml as pyyaml

                doc = pyyaml.safe_load(document)
            else:
                doc = json.loads(document)
            meta = doc.get("metadata", {})
            self._fields = json.loads(meta["portable.fields"])
            # titus decodes nested TreeNode records recursively (about 5 frames per tree
            # level): a depth-400 tree needs more than Python's default 1000 frames.
            limit = sys.getrecursionlimit()
            sys.setrecursionlimit(max(limit, _BUILD_RECURSION))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self._engine, = PFAEngine.fromJson(doc)
            finally:
                sys.setrecursionlimit(limit)
        except KeyError:
            raise ArtifactError("This PFA document has no portable metadata "
                                "(portable.fields); export it with portable.") from None
        except Exception as e:
            raise ArtifactError(f"titus2 cannot build an engine from this PFA document: "
                                f"{type(e).__name__}: {e}") from None
        self._dtype = np.float32 if meta.get("portable.dtype") == "float32" else np.float64
        self._strings = [t == "string" for t in signature.feature_types]

    def predict(self, X, output: str = "prediction") -> np.ndarray:
        """Predict ``X`` (2-D rows, a 1-D row, or a DataFrame), one record at a time.

        ``output="prediction"``: values, class probabilities or decision scores;
        ``output="margin"``: raw scores before the link. Always a 2-D array.
        """
        if output not in OUTPUTS:
            raise InputError(f"Unknown output {output!r}; choose one of {', '.join(OUTPUTS)}.")
        rows = self._run(X)
        width = len(self.signature.output_names) if output == "prediction" else None
        if not rows:
            return np.empty((0, width or 0), dtype=self._dtype)
        return np.array([r[output] for r in rows], dtype=np.float64).astype(self._dtype)

    def labels(self, X) -> np.ndarray:
        """Predicted class labels (1-D, as strings) of a classifier."""
        if self.signature.task != "classification":
            raise InputError("Labels exist only for classifiers.")
        return np.array([r["label"] for r in self._run(X)], dtype=object)

    def close(self) -> None:
        self._engine = None

    def _run(self, X) -> list:
        if self._engine is None:
            raise InputError("This session is closed.")
        Z = prepare_input(self.signature, X)
        action = self._engine.action
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # titus warns on every avro schema it parses
            for i, row in enumerate(Z):
                rec = {}
                for f, v, s in zip(self._fields, row, self._strings):
                    if s:
                        if v is None or (isinstance(v, float) and v != v):
                            raise InputError(f"Row {i}: missing string values cannot be "
                                             f"scored by the PFA engine; give a category.")
                        rec[f] = str(v)
                    else:
                        rec[f] = float(v)
                try:
                    out.append(action(rec))
                except Exception as e:  # PFARuntimeException, PFAUserException ("error")
                    raise InputError(f"titus2 rejected row {i}: {e}") from None
        return out

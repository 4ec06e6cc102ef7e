"""onnxruntime: runs ``model.onnx`` artifacts, ours and the upstream engines' alike.

A session honours the same contract as ``portable.evaluate``: rows go through
``prepare_input(signature, X)`` (DataFrames matched by column name, 1-D means one row) and
``predict`` returns a 2-D array in the graph's dtype (float32 for XGBoost-style ensembles,
float64 otherwise). The graph's ``portable.io`` metadata says which input holds which
feature and which output is the prediction, the margin and the label.

Threads: ``intra_op_num_threads`` comes from ``OnnxRuntime(threads=...)``, else the
``PORTABLE_ORT_THREADS`` environment variable, else 1. With one thread onnxruntime adds the
trees of an ensemble in order, which is what makes float32 margins bit-exact. With several
it sums tree ranges in parallel and merges them: measured on a 500-tree XGBoost model,
2 threads moved float32 margins by up to 274 ULP on a 2000-row batch (4 threads: 631);
single rows and small batches were still exact. Leaf paths are unaffected.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..errors import ArtifactError, InputError, RuntimeUnavailableError, UnsupportedFeatureError
from ..ir import Signature
from ..ir.evaluate import OUTPUTS, prepare_input
from ._base import Runtime

INSTALL = 'The onnxruntime runtime needs onnxruntime: pip install "portable[onnx]".'
_NP = {"float32": np.float32, "float64": np.float64, "int64": np.int64}


class OnnxRuntime(Runtime):
    """Runtime "onnxruntime" for the "onnx" format.

    Examples
    --------
    >>> session = portable.load("out/onnx", runtime="onnxruntime")   # doctest: +SKIP
    >>> session.predict(X, output="margin")                          # doctest: +SKIP
    """

    name = "onnxruntime"
    formats = ("onnx",)

    def __init__(self, *, threads: int | None = None):
        self.threads = threads

    @classmethod
    def available(cls) -> str | None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return INSTALL
        return None

    def open(self, artifact) -> "OnnxSession":
        """Open ``artifact`` (an ``Artifact`` or a folder path) and return a session."""
        from pathlib import Path

        path = Path(artifact.file("model.onnx"))
        if not path.is_file():
            raise ArtifactError(f"{str(artifact.path)!r} has no model.onnx.")
        sig = artifact.signature if "signature" in artifact.manifest else None
        return OnnxSession(path.read_bytes(), signature=sig, threads=self.threads)


class OnnxSession:
    """An onnxruntime ``InferenceSession`` behind the ``predict(X, output=...)`` contract."""

    def __init__(self, model: bytes, *, signature: Signature | None = None,
                 threads: int | None = None, io: dict | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise RuntimeUnavailableError(INSTALL) from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = _threads(threads)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 4  # errors are raised to the caller; don't also print them
        try:
            self._sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise ArtifactError(f"onnxruntime cannot load this model: {e}") from None
        meta = self._sess.get_modelmeta().custom_metadata_map
        if signature is None:
            if "portable.signature" not in meta:
                raise ArtifactError("The ONNX model carries no portable.signature metadata; "
                                    "load it through an artifact folder (portable.json).")
            signature = Signature.from_dict(json.loads(meta["portable.signature"]))
        self.signature = signature
        if io is None:
            io = json.loads(meta["portable.io"]) if "portable.io" in meta else _guess_io(
                self._sess, signature)
        self.io = io
        self._out = {o.name: o for o in self._sess.get_outputs()}

    @property
    def engine(self) -> str:
        return self.io.get("engine", "unknown")

    def predict(self, X, output: str = "prediction") -> np.ndarray:
        """Predict ``X`` (2-D rows, a 1-D row, or a DataFrame).

        ``output="prediction"``: values, class probabilities or decision scores;
        ``output="margin"``: raw scores before the link. Always a 2-D array.
        """
        if output not in OUTPUTS:
            raise InputError(f"Unknown output {output!r}; choose one of {', '.join(OUTPUTS)}.")
        y = self._run(output, X)
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        pick = self.io.get("columns", {}).get(output)
        return y if pick is None else y[:, pick]

    def labels(self, X) -> np.ndarray:
        """Class labels (1-D), from the graph's ``label`` output."""
        return self._run("label", X).reshape(-1)

    def leaves(self, X) -> np.ndarray:
        """Leaf node index per tree, (rows, trees) int64 (graphs exported with leaves=True)."""
        return self._run("leaves", X)

    def close(self) -> None:
        self._sess = None

    # ------------------------------------------------------------------------- internals
    def _run(self, role: str, X) -> np.ndarray:
        if self._sess is None:
            raise InputError("This session is closed.")
        name = self.io["outputs"].get(role)
        if name is None:
            raise UnsupportedFeatureError(
                f"This ONNX graph (engine {self.engine!r}) has no {role!r} output"
                + (". Re-export with engine 'portable' to get margins." if role == "margin"
                   else "."))
        feeds, n = self._feeds(X)
        if n == 0:
            shape = self._out[name].shape
            width = shape[1] if len(shape) > 1 and isinstance(shape[1], int) else (
                len(self.signature.output_names))
            kind = self._out[name].type
            dt = np.float32 if "float)" in kind else np.int64 if "int64" in kind else (
                object if "string" in kind else np.float64)
            return np.empty((0,) if role == "label" else (0, width), dtype=dt)
        try:
            return self._sess.run([name], feeds)[0]
        except Exception as e:  # onnxruntime raises its own exception types
            msg = str(e)
            if "unknown_category_in_" in msg:
                col = msg.split("unknown_category_in_", 1)[1].split("'", 1)[0]
                raise InputError(f"Unknown category in input column {col!r}: the encoder was "
                                 f"fitted with handle_unknown='error'.") from None
            if "INVALID_ARGUMENT" in msg:
                raise InputError(f"onnxruntime rejected the input: {msg}") from None
            raise

    def _feeds(self, X) -> tuple[dict, int]:
        Z = prepare_input(self.signature, X)
        feeds = {}
        every = list(range(Z.shape[1]))
        for inp in self.io["inputs"]:
            block = Z if inp["columns"] == every else Z[:, inp["columns"]]
            if inp["dtype"] == "string":
                from ..converters._onnx_graph import MISSING_STRING
                block = np.array([[MISSING_STRING if _missing(v) else str(v) for v in row]
                                  for row in block], dtype=object).reshape(block.shape)
            else:
                block = np.asarray(block, dtype=np.float64).astype(_NP[inp["dtype"]])
            if inp.get("rank") == 1:
                block = block.reshape(-1)
            feeds[inp["name"]] = block
        return feeds, Z.shape[0]


def _missing(v) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and v != v)


def _threads(threads: int | None) -> int:
    if threads is None:
        env = os.environ.get("PORTABLE_ORT_THREADS", "").strip()
        try:
            threads = int(env) if env else 1
        except ValueError:
            raise InputError(f"PORTABLE_ORT_THREADS={env!r} is not an integer.") from None
    if threads < 0:
        raise InputError(f"threads must be >= 0 (0: onnxruntime's default), not {threads}.")
    return threads


def _guess_io(sess, sig: Signature) -> dict:
    """Input/output roles of a graph without ``portable.io`` (one numeric input assumed)."""
    inp = sess.get_inputs()
    if len(inp) != 1:
        raise ArtifactError("This ONNX graph has several inputs and no portable.io metadata; "
                            "portable cannot tell which feature goes where.")
    dtype = "float64" if "double" in inp[0].type else "float32"
    outs = [o.name for o in sess.get_outputs()]
    roles = {"prediction": outs[-1]}
    if sig.task == "classification" and len(outs) > 1:
        roles["label"] = outs[0]
    return {"engine": "unknown", "inputs": [{"name": inp[0].name, "dtype": dtype,
                                             "columns": list(range(sig.n_features))}],
            "outputs": roles}

"""Peers timed next to portable's runtimes by ``portable.bench``: a bare onnxruntime session
on the same graph, and m2cgen / tl2cgen where installed (portable never installs them)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .bench import Runner


def walk(obj):
    """The object and the estimators of its pipeline (their modules are imported before
    the cold-start clock starts, as ``import portable`` is for portable's runtimes)."""
    yield obj
    for _, step in getattr(obj, "steps", []) or []:
        yield from walk(step)


def raw_ort(path, session):
    """A bare onnxruntime session (1 thread) on the graph, and how to feed it."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    io = getattr(session, "io", None)
    if not io or len(io.get("inputs", [])) != 1 or io["inputs"][0]["dtype"] == "string":
        return None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # upstream graphs carry unused initializers; not our news
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    inp = io["inputs"][0]
    out_name = io["outputs"]["prediction"]
    dt = {"float32": np.float32, "float64": np.float64, "int64": np.int64}[inp["dtype"]]
    name = inp["name"]
    return ((lambda feed: sess.run([out_name], feed)[0]),
            (lambda A: {name: np.ascontiguousarray(A, dtype=dt)}))


def other_peers(obj, m, tmp: Path) -> list[Runner]:
    """m2cgen / tl2cgen, only where installed (portable never installs them)."""
    from importlib.util import find_spec

    out = []
    for pkg, name in (("m2cgen", "m2cgen-Python"), ("tl2cgen", "tl2cgen")):
        if find_spec(pkg) is None:
            out.append(Runner(name, "peer", status="skipped",
                              reason=f"{pkg} is not installed (optional peer; portable "
                                     f"does not depend on it)"))
            continue
        try:
            out.append(_m2cgen(obj) if pkg == "m2cgen" else _tl2cgen(obj, tmp))
        except Exception as e:  # a peer that cannot handle the model is reported, not fatal
            out.append(Runner(name, "peer", status="error",
                              reason=f"{type(e).__name__}: {e}"[:300]))
    return out


def _m2cgen(obj) -> Runner:
    import threading

    import m2cgen

    # m2cgen recurses once per tree level and nests expressions as deep: as its README
    # advises, raise the recursion limit, on a thread with a stack big enough for it.
    box: dict = {}

    def build():
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 200_000))
        try:
            ns: dict = {}
            exec(compile(m2cgen.export_to_python(obj), "<m2cgen>", "exec"), ns)  # noqa: S102
            box["score"] = ns["score"]
        except BaseException as e:  # reported as the peer's error
            box["error"] = e
        finally:
            sys.setrecursionlimit(limit)

    old = threading.stack_size(512 * 2**20)
    try:
        t = threading.Thread(target=build)
        t.start()
        t.join()
    finally:
        threading.stack_size(old)
    if "error" in box:
        raise box["error"]
    score = box["score"]
    return Runner("m2cgen-Python", "peer",
                  call=lambda rows: [score(r) for r in rows], prepare=lambda A: A.tolist())


def _tl2cgen(obj, tmp: Path) -> Runner:
    import tl2cgen
    import treelite

    if type(obj).__module__.startswith("xgboost"):
        booster = obj.get_booster() if hasattr(obj, "get_booster") else obj
        tm = treelite.frontend.from_xgboost(booster)
    else:
        tm = treelite.sklearn.import_model(obj)
    lib = tmp / "tl2cgen.so"
    tl2cgen.export_lib(tm, toolchain="gcc", libpath=str(lib), params={})
    pred = tl2cgen.Predictor(str(lib), nthread=1)
    return Runner("tl2cgen", "peer", call=lambda A: pred.predict(tl2cgen.DMatrix(A)))



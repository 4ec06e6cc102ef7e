"""Cold-start probe, run by ``portable.bench`` in a fresh interpreter (``python -c``, so
that nothing but what it imports is loaded): argv[1] is a JSON spec; it prints one JSON
line of timings and memory. Not imported by the package."""

import json, os, resource, sys, time, tracemalloc
t_start = time.perf_counter()
spec = json.loads(sys.argv[1])
import numpy as np
X = np.load(spec["rows"], allow_pickle=True)[:spec["n"]]  # written by the parent
if spec.get("text"):
    X = [str(v) for v in X[:, 0]]
def status_mb(key):
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def reset_peak():
    # ru_maxrss survives fork+exec (it holds the parent's size): use VmHWM, reset here.
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
def children_peak_mb():
    pids, todo = set(), [os.getpid()]
    while todo:
        p = todo.pop()
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
                todo += [k for k in kids if k not in pids]
                pids.update(kids)
        except OSError:
            pass
    total = 0.0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total
kind = spec["kind"]
if kind == "portable":
    import portable
    from portable.runtimes import RUNTIMES
    RUNTIMES.get(spec["runtime"])
elif kind == "joblib":
    import importlib, joblib
    for mod in spec.get("imports", []):
        importlib.import_module(mod)
elif kind == "ort":
    import onnxruntime as ort
t_imported = time.perf_counter()
reset_peak()
rss0 = status_mb("VmRSS")
tracemalloc.start()
t0 = time.perf_counter()
if kind == "portable":
    s = portable.load(spec["path"], runtime=spec["runtime"])
    call = s.predict
elif kind == "joblib":
    obj = joblib.load(spec["path"])
    if spec["method"] == "inplace_predict":
        b = obj.get_booster() if hasattr(obj, "get_booster") else obj
        call = lambda A: b.inplace_predict(A.astype(np.float32))
    else:
        call = getattr(obj, spec["method"])
else:
    o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
    o.log_severity_level = 3
    sess = ort.InferenceSession(spec["path"], o, providers=["CPUExecutionProvider"])
    name, dt = sess.get_inputs()[0].name, sess.get_inputs()[0].type
    call = lambda A: sess.run(None, {name: A.astype(np.float64 if "double" in dt else np.float32)})
t1 = time.perf_counter()
call(X[:1])
t2 = time.perf_counter()
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()  # it slows pure-Python code by orders of magnitude: off for the batch
call(X)
t3 = time.perf_counter()
print(json.dumps({"import_s": t_imported - t_start, "load_s": t1 - t0, "first_predict_s": t2 - t1,
                  "batch_rows": len(X), "batch_s": t3 - t2, "rss_before_mb": rss0,
                  "rss_peak_mb": status_mb("VmHWM"), "tracemalloc_peak_mb": peak / 2**20,
                  "children_peak_rss_mb": children_peak_mb()}))

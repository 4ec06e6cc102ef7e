"""XGBoost frontend: ``Booster``, the scikit-learn wrappers and ``.json`` / ``.ubj`` files.

Everything goes through one code path: the model document XGBoost itself saves
(``save_model`` / ``save_raw``), decoded into dicts and arrays, then converted with numpy
(no per-node Python loops, no recursion). Live objects are serialised with
``save_raw("ubj")``, the same document as ``save_raw("json")`` in binary form, because it
decodes an order of magnitude faster. Files import without XGBoost installed.

Numeric semantics reproduced (checked against XGBoost 3.2 ``src/predictor``,
``src/objective`` and ``src/learner.cc``):

* inputs are cast to float32; a row goes left when ``x < split_condition`` (float32); NaN
  follows ``default_left``; a leaf's value is its ``split_conditions`` entry;
* the margin is ``base_score`` plus every tree's leaf, added in float32 in tree order,
  tree ``t`` into column ``tree_info[t]``;
* ``base_score`` is saved in probability space and turned into a margin by the
  objective's ``ProbToMargin`` in float32: ``-logf(1/p - 1)`` after clamping ``p`` to
  ``[1e-6, 1 - 1e-6]`` for logistic objectives, ``logf(p)`` for log-link ones, identity
  otherwise. ``logf`` is taken from the platform C library, the function XGBoost calls,
  so the margin matches XGBoost bit for bit (a correctly rounded log differs from glibc's
  ``logf`` by one ULP for about 0.5% of base scores).

What the IR predicts:

* ``binary:logistic`` and ``multi:softprob``: class probabilities (``predict_proba``);
  ``multi:softmax``: the same softmax probabilities, whose argmax is XGBoost's predicted
  label; ``binary:logitraw``: one decision score (the margin; positive means class 1);
* regression objectives: the value ``predict`` returns (one column per target);
* a scikit-learn estimator fitted with early stopping: the trees up to ``best_iteration``
  (what its ``predict`` uses); a ``Booster``: every tree (what ``Booster.predict`` uses).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np

from .. import ir
from ..errors import InvalidModelError, ModelLoadError, NotFittedError, UnsupportedFeatureError
from . import _ubjson

# objective -> (post_transform, base_score link, kind). kind: "binary" / "multiclass"
# objectives make a classifier unless a scikit-learn wrapper says "regressor".
_OBJECTIVES = {
    "reg:squarederror": ("identity", "identity", "regression"),
    "reg:linear": ("identity", "identity", "regression"),  # legacy name of squarederror
    "reg:squaredlogerror": ("identity", "identity", "regression"),
    "reg:pseudohubererror": ("identity", "identity", "regression"),
    "reg:absoluteerror": ("identity", "identity", "regression"),
    "reg:quantileerror": ("identity", "identity", "regression"),
    "reg:logistic": ("logistic", "logit", "regression"),
    "binary:logistic": ("logistic", "logit", "binary"),
    "binary:logitraw": ("identity", "identity", "binary"),
    "multi:softprob": ("softmax", "identity", "multiclass"),
    "multi:softmax": ("softmax", "identity", "multiclass"),
    "count:poisson": ("exp", "log", "regression"),
    "reg:tweedie": ("exp", "log", "regression"),
    "reg:gamma": ("exp", "log", "regression"),
    "survival:cox": ("exp", "log", "regression"),
    "rank:pairwise": ("identity", "identity", "regression"),
    "rank:ndcg": ("identity", "identity", "regression"),
    "rank:map": ("identity", "identity", "regression"),
}
_WHY_NOT = {
    "binary:hinge": "its prediction is a 0/1 step of the margin, not a smooth link",
    "survival:aft": "its prediction link is computed in double precision by XGBoost",
}


class XGBoostFrontend:
    """Imports XGBoost models; see the module docstring for the semantics."""

    name = "xgboost"
    estimators = {name: ("tree_ensemble",) for name in (
        "Booster", "XGBClassifier", "XGBRFClassifier", "XGBRFRegressor", "XGBRanker",
        "XGBRegressor")}

    def accepts(self, obj) -> bool:
        """True for ``xgboost.Booster`` and XGBoost's scikit-learn estimators (and subclasses).

        Decided from the class's module names so that asking never imports XGBoost.
        """
        mods = [getattr(c, "__module__", "") or "" for c in type(obj).__mro__]
        if not any(m == "xgboost" or m.startswith("xgboost.") for m in mods):
            return False
        names = {c.__name__ for c in type(obj).__mro__}
        return "Booster" in names or "XGBModel" in names

    def import_model(self, obj) -> ir.Model:
        """Import a fitted ``Booster`` or XGBoost scikit-learn estimator.

        A scikit-learn estimator fitted with early stopping keeps the trees up to
        ``best_iteration`` (its ``predict`` uses exactly those); a ``Booster`` keeps every
        tree, as ``Booster.predict`` does.
        """
        names = {c.__name__ for c in type(obj).__mro__}
        if "Booster" in names:
            booster, wrapper, classes = obj, None, None
        else:
            if callable(getattr(obj, "objective", None)):
                raise UnsupportedFeatureError(
                    f"{type(obj).__name__} was fitted with a custom (Python) objective, so its "
                    f"prediction link is unknown. Refit with a built-in objective "
                    f"({', '.join(sorted(_OBJECTIVES))}).")
            fitted = getattr(obj, "__sklearn_is_fitted__", lambda: hasattr(obj, "_Booster"))
            if not fitted():
                raise NotFittedError(
                    f"This {type(obj).__name__} is not fitted yet; call fit() (or load_model) "
                    f"first.")
            booster = obj.get_booster()
            wrapper = _wrapper_type(obj, names)
            classes = tuple(obj.classes_.tolist()) if hasattr(obj, "classes_") else None
        try:
            raw = bytes(booster.save_raw("ubj"))
        except Exception as e:  # XGBoostError: an empty Booster has nothing to save
            raise NotFittedError(f"This {type(obj).__name__} holds no trained model ({e}). "
                                 f"Train it or load a model file first.") from None
        doc = _ubjson.loads(raw)
        return from_document(doc, estimator=type(obj).__name__, wrapper=wrapper, classes=classes)

    def import_file(self, path) -> ir.Model:
        """Import a ``.json`` or ``.ubj`` file written by ``save_model``.

        A file saved from a scikit-learn estimator (it carries a ``scikit_learn``
        attribute) is imported as that estimator predicts after ``load_model``; any other
        file as a ``Booster``.
        """
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as e:
            raise ModelLoadError(f"Cannot read {str(p)!r}: {e.strerror or e}.") from None
        doc = _decode(data, p)
        attrs = _dict(_dict(doc, "learner", p), "attributes", p, required=False)
        meta = attrs.get("scikit_learn")
        wrapper = classes = None
        if meta is not None:
            try:
                meta = json.loads(meta)
                wrapper = str(meta.get("_estimator_type", "regressor"))
            except (ValueError, TypeError, AttributeError):
                raise ModelLoadError(
                    f"{str(p)!r}: its scikit_learn attribute is not valid JSON.") from None
            if isinstance(meta.get("classes_"), list):
                classes = tuple(meta["classes_"])
        try:
            model = from_document(doc, estimator=None, wrapper=wrapper, classes=classes)
            return ir.check_model(model)
        except (ModelLoadError, UnsupportedFeatureError, NotFittedError) as e:
            raise type(e)(f"{str(p)!r}: {e}") from None
        except (InvalidModelError, KeyError, IndexError, TypeError, ValueError) as e:
            raise ModelLoadError(f"{str(p)!r} is not a consistent XGBoost model "
                                 f"({type(e).__name__}: {e}). Is it corrupt?") from None


def _wrapper_type(obj, names: set) -> str:
    """classifier / regressor / ranker (``_estimator_type`` is gone in scikit-learn 1.8)."""
    if "XGBClassifier" in names:
        return "classifier"
    if "XGBRanker" in names:
        return "ranker"
    try:
        return str(obj._get_type())
    except Exception:
        return "regressor"


def _decode(data: bytes, p: Path) -> dict:
    """Parse JSON or UBJSON: by extension as XGBoost does; other names by their first bytes."""
    if not data.strip():
        raise ModelLoadError(f"The model file {str(p)!r} is empty.")
    ext = p.suffix.lower()
    # A UBJSON object starts with '{' then a key-length marker; a JSON one with '{' then '"'.
    ubj = ext == ".ubj" or (ext != ".json" and data[:1] == b"{"
                            and len(data) > 1 and data[1:2] in b"iUIlL")
    try:
        doc = _ubjson.loads(data) if ubj else _loads_json(data)
    except (ValueError, RecursionError, IndexError, KeyError, TypeError, OverflowError) as e:
        # JSONDecodeError, UBJSONError, bad UTF-8; the others only from a defect in the decoder
        raise ModelLoadError(
            f"{str(p)!r} is not a readable XGBoost model ({type(e).__name__}: {e}). Is it "
            f"truncated or of another kind? Save models with save_model('model.json' or "
            f"'model.ubj').") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("learner"), dict):
        raise ModelLoadError(
            f"{str(p)!r} is valid {p.suffix.lstrip('.') or 'JSON'} but not an XGBoost model "
            f"(no 'learner' section). Save models with Booster.save_model or "
            f"XGBModel.save_model.")
    return doc


# Per-node arrays of a tree: parsed with numpy instead of one Python object per number, which
# makes a 4-million-node .json file load in seconds rather than tens of seconds.
_NODE_ARRAYS = {"left_children": np.int64, "right_children": np.int64, "split_indices": np.int64,
                "default_left": np.int64, "split_type": np.int64, "split_conditions": np.float64,
                "leaf_weights": np.float64, "base_weights": np.float64, "parents": None,
                "loss_changes": None, "sum_hessian": None}
_NODE_ARRAY_RE = re.compile(
    rb'"(' + "|".join(_NODE_ARRAYS).encode() + rb')"(\s*:\s*)\[([-+0-9.eE,\s]*)\]')
_PLACEHOLDER = "\x00portable:"


def _loads_json(data: bytes):
    """``json.loads``, with flat numeric node arrays parsed by numpy.

    Each array is swapped for a placeholder string, the small remaining document is parsed
    with ``json``, then every placeholder is resolved inside ``trees``. If anything does not
    add up (a match inside a string, a number numpy cannot read), the plain ``json.loads``
    result is returned instead, so the shortcut never changes what is read.
    """
    chunks: list[bytes] = []

    def swap(m):
        chunks.append(m.group(3))
        return b'"%s"%s"\\u0000portable:%d"' % (m.group(1), m.group(2), len(chunks) - 1)

    try:
        doc = json.loads(_NODE_ARRAY_RE.sub(swap, data))
        if chunks and _resolve_node_arrays(doc, chunks) != len(chunks):
            raise ValueError("unresolved placeholders")
        return doc
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError, DeprecationWarning):
        return json.loads(data)


def _resolve_node_arrays(doc, chunks: list[bytes]) -> int:
    """Replace placeholders in every tree by numpy arrays; returns how many were found."""
    trees = doc["learner"]["gradient_booster"]["model"]["trees"]
    found = 0
    for tree in trees:
        vector = int((tree.get("tree_param") or {}).get("size_leaf_vector", 1)) > 1
        for key, dtype in _NODE_ARRAYS.items():
            v = tree.get(key)
            if not (isinstance(v, str) and v.startswith(_PLACEHOLDER)):
                continue
            found += 1
            if dtype is None or (key == "base_weights" and not vector):
                tree[key] = None  # never read: skip parsing
                continue
            text = chunks[int(v[len(_PLACEHOLDER):])]
            n = text.count(b",") + 1 if text.strip() else 0
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a partial parse warns: treat it as an error
                a = np.fromstring(text, dtype=dtype, sep=",") if n else np.empty(0, dtype)
            if a.size != n:
                raise ValueError(f"{key}: read {a.size} of {n} numbers")
            tree[key] = a
    return found


def _dict(d: dict, key: str, where, required: bool = True) -> dict:
    v = d.get(key)
    if isinstance(v, dict):
        return v
    if v is None and not required:
        return {}
    raise ModelLoadError(f"{where}: not an XGBoost model, its {key!r} section is missing.")


def from_document(doc: dict, *, estimator: str | None, wrapper: str | None,
                  classes: tuple | None) -> ir.Model:
    """Build the IR from a decoded XGBoost model document.

    Parameters
    ----------
    doc : dict
        The ``save_model`` document (from JSON or UBJSON).
    estimator : str or None
        Class name of the live object; None for files (then inferred).
    wrapper : "classifier", "regressor", "ranker" or None
        The scikit-learn estimator type; None for a ``Booster``.
    classes : tuple or None
        The scikit-learn classifier's ``classes_``.
    """
    learner = _dict(doc, "learner", "model")
    gb = _dict(learner, "gradient_booster", "learner")
    kind = gb.get("name", "?")
    if kind != "gbtree":
        what = {"gblinear": "linear booster (booster='gblinear')",
                "dart": "DART booster (booster='dart'), whose trees are reweighted by dropout"}
        raise UnsupportedFeatureError(
            f"XGBoost {what.get(kind, f'booster {kind!r}')} is not supported; only "
            f"booster='gbtree' is. Retrain with booster='gbtree'.")
    objective = str(_dict(learner, "objective", "learner").get("name", "?"))
    if objective not in _OBJECTIVES:
        why = _WHY_NOT.get(objective, "it is not implemented")
        raise UnsupportedFeatureError(
            f"XGBoost objective {objective!r} is not supported ({why}). Supported: "
            f"{', '.join(sorted(_OBJECTIVES))}.")
    link, base_link, obj_kind = _OBJECTIVES[objective]
    mparam = _dict(learner, "learner_model_param", "learner")
    n_features = int(mparam.get("num_feature", 0))
    n_outputs = max(int(mparam.get("num_class", 0)), int(mparam.get("num_target", 1)), 1)
    ftypes = [str(t) for t in learner.get("feature_types") or ()]
    if "c" in ftypes:
        raise UnsupportedFeatureError(
            "This XGBoost model has categorical features (enable_categorical=True). Categorical "
            "splits are not supported yet; one-hot encode those columns and retrain.")
    model = _dict(gb, "model", "gradient_booster")
    best = None
    if wrapper is not None:  # the scikit-learn API predicts up to best_iteration
        best = _dict(learner, "attributes", "learner", required=False).get("best_iteration")
    trees = _convert_trees(model, n_features, n_outputs, None if best is None else int(best))
    base = _base_margin(mparam.get("base_score"), n_outputs, base_link, objective)
    ensemble = ir.TreeEnsemble(
        trees=trees, n_features=n_features, n_outputs=n_outputs, base_score=base,
        split_op="<", input_dtype="float32", threshold_dtype="float32",
        accumulate_dtype="float32", aggregation="sum", post_transform=link)
    names = [str(n) for n in learner.get("feature_names") or ()]
    if names and len(names) != n_features:
        raise ModelLoadError(f"The model names {len(names)} features but reads {n_features}.")
    signature = _signature(names or [f"f{i}" for i in range(n_features)], objective, obj_kind,
                           link, n_outputs, wrapper, classes)
    if estimator is None:
        estimator = _estimator_name(wrapper, model)
    version = ".".join(str(v) for v in doc.get("version") or ()) or _installed_version()
    source = ir.Source(library="xgboost", version=version, estimator=estimator, detail=objective)
    return ir.Model(signature=signature, steps=(ensemble,), source=source)


def _signature(names, objective, obj_kind, link, n_outputs, wrapper, classes) -> ir.Signature:
    is_classifier = wrapper == "classifier" or (wrapper is None and obj_kind != "regression")
    common = dict(feature_names=tuple(names), feature_types=("float32",) * len(names))
    if not is_classifier:
        outs = ("prediction",) if n_outputs == 1 else tuple(
            f"prediction({k})" for k in range(n_outputs))
        return ir.Signature(task="regression", output_names=outs, prediction_kind="value",
                            **common)
    if link == "softmax":
        n_classes = n_outputs
    elif n_outputs == 1 and (link == "logistic" or objective == "binary:logitraw"):
        n_classes = 2
    else:
        raise UnsupportedFeatureError(
            f"A classifier with objective {objective!r} and {n_outputs} outputs is not "
            f"supported (multi-label classification or a non-classification objective). "
            f"Use binary:logistic, binary:logitraw or multi:softprob.")
    classes = tuple(classes) if classes is not None else tuple(range(n_classes))
    if len(classes) != n_classes:
        raise ModelLoadError(f"{len(classes)} class labels for a {n_classes}-class model.")
    if link == "identity":  # binary:logitraw: one decision score, positive means classes[1]
        return ir.Signature(task="classification", output_names=("decision",),
                            prediction_kind="decision", classes=classes, **common)
    # multi:softmax predicts the argmax label; its IR prediction is the softmax probabilities.
    return ir.Signature(task="classification", prediction_kind="probability", classes=classes,
                        output_names=tuple(f"probability({c})" for c in classes), **common)


def _estimator_name(wrapper, model: dict) -> str:
    """The class a file came from; XGBRF* are recognised as one round of parallel trees."""
    if wrapper is None:
        return "Booster"
    if wrapper == "ranker":
        return "XGBRanker"
    base = "Classifier" if wrapper == "classifier" else "Regressor"
    param = model.get("gbtree_model_param") or {}
    indptr = model.get("iteration_indptr")
    rounds = len(indptr) - 1 if indptr is not None else None
    if int(param.get("num_parallel_tree", 1)) > 1 and rounds == 1:
        return "XGBRF" + base
    return "XGB" + base


def _base_margin(text, n_outputs: int, link: str, objective: str) -> np.ndarray:
    """``base_score`` ("5E-1", "[5E-1]" or "[a,b,c]") through the objective's ProbToMargin."""
    if text is None:
        raise ModelLoadError("The model has no base_score.")
    parts = [s for s in str(text).strip().strip("[]").split(",") if s.strip()]
    try:
        p = np.array([float(s) for s in parts], dtype=np.float64).astype(np.float32)
    except ValueError:
        raise ModelLoadError(f"Cannot read base_score {text!r}.") from None
    if p.size == 1 and n_outputs > 1:  # models before 3.1 store one scalar for every output
        p = np.full(n_outputs, p[0], dtype=np.float32)
    if p.size != n_outputs:
        raise ModelLoadError(f"base_score {text!r} has {p.size} values for {n_outputs} outputs.")
    if link == "logit":  # LogisticRegression::ProbToMargin, all in float32
        eps = np.float32(1e-6)
        p = np.minimum(np.maximum(p, eps), np.float32(1.0) - eps)
        margin = -_logf32(np.float32(1.0) / p - np.float32(1.0))
    elif link == "log":
        margin = _logf32(p)
    else:
        margin = p
    if not np.all(np.isfinite(margin)):
        raise ModelLoadError(f"base_score {text!r} is outside the domain of {objective}.")
    return margin.astype(np.float32)


def _convert_trees(model: dict, n_features: int, n_outputs: int,
                   best_iteration: int | None) -> tuple[ir.Tree, ...]:
    """All trees (up to ``best_iteration`` when given), in XGBoost's order."""
    trees = model.get("trees")
    if not isinstance(trees, list):
        raise ModelLoadError("The model has no list of trees.")
    info = np.asarray(model.get("tree_info", ()), dtype=np.int64).ravel()
    if info.size != len(trees):
        raise ModelLoadError(f"tree_info has {info.size} entries for {len(trees)} trees.")
    vector = any(int((t.get("tree_param") or {}).get("size_leaf_vector", 1)) > 1 for t in trees)
    if best_iteration is not None:
        indptr = model.get("iteration_indptr")
        if indptr is not None and len(indptr) > best_iteration + 1:
            keep = int(indptr[best_iteration + 1])
        else:  # files before 2.1 have no iteration_indptr: count trees per round
            npt = int((model.get("gbtree_model_param") or {}).get("num_parallel_tree", 1))
            keep = (best_iteration + 1) * npt * (1 if vector else n_outputs)
        trees, info = trees[:keep], info[:keep]
    if not trees:
        raise NotFittedError("The XGBoost model has no trees: it was never trained.")
    if info.min() < 0 or info.max() >= n_outputs:
        raise ModelLoadError(f"tree_info names output groups outside 0..{n_outputs - 1}.")
    return tuple(_tree(t, int(g), n_outputs) for t, g in zip(trees, info))


def _array(t: dict, key: str, dtype, n: int) -> np.ndarray:
    a = np.asarray(t.get(key, ()), dtype=dtype).ravel()
    if a.size != n:
        raise ModelLoadError(f"A tree's {key} has {a.size} entries for {n} nodes.")
    return a


def _tree(t: dict, group: int, n_outputs: int) -> ir.Tree:
    """One tree, vectorised over its nodes."""
    tparam = t.get("tree_param") or {}
    n = int(tparam.get("num_nodes", len(t.get("left_children", ()))))
    left = _array(t, "left_children", np.int64, n)
    right = _array(t, "right_children", np.int64, n)
    split_type = t.get("split_type")
    if split_type is not None and np.any(np.asarray(split_type) != 0):
        raise UnsupportedFeatureError(
            "This XGBoost model has categorical splits, which are not supported yet; one-hot "
            "encode the categorical columns and retrain.")
    cond = _array(t, "split_conditions", np.float32, n)
    leaf = left == -1
    k = max(1, int(tparam.get("size_leaf_vector", 1)))
    if k == 1:
        value = np.where(leaf, cond, np.float32(0))[:, None]
        offset = group
    else:  # multi_output_tree: a vector of n_outputs values per leaf
        if k != n_outputs:
            raise ModelLoadError(f"A tree has {k}-value leaves for {n_outputs} outputs.")
        value = np.zeros((n, k), dtype=np.float32)
        weights = np.asarray(t.get("leaf_weights", ()), dtype=np.float32).ravel()
        if weights.size:  # XGBoost >= 3.1: a leaf's right child indexes leaf_weights
            value[leaf] = weights.reshape(-1, k)[right[leaf]]
        else:  # earlier versions keep every node's weight vector in base_weights
            value[leaf] = _array(t, "base_weights", np.float32, n * k).reshape(n, k)[leaf]
        offset = 0
    feature = np.where(leaf, -1, _array(t, "split_indices", np.int64, n))
    threshold = np.where(leaf, np.float32(0), cond)
    default_left = np.where(leaf, False, _array(t, "default_left", np.int64, n) != 0)
    right = np.where(leaf, -1, right)
    if int(tparam.get("num_deleted", 0)):  # pruned nodes stay in the arrays, unreachable
        left, right, feature, threshold, default_left, value = _compact(
            left, right, feature, threshold, default_left, value)
    return ir.Tree(feature=feature.astype(np.int32), threshold=threshold.astype(np.float32),
                   left=left.astype(np.int32), right=right.astype(np.int32),
                   default_left=default_left, value=value.astype(np.float32),
                   output_offset=offset)


def _compact(left, right, *columns):
    """Drop nodes unreachable from the root and renumber the rest (order kept)."""
    n = left.size
    seen = np.zeros(n, dtype=bool)
    frontier = np.array([0])
    for _ in range(n + 1):
        if not frontier.size:
            break
        seen[frontier] = True
        frontier = frontier[left[frontier] != -1]
        frontier = np.concatenate([left[frontier], right[frontier]])
    else:
        raise ModelLoadError("A tree has a cycle.")
    keep = np.flatnonzero(seen)
    new = np.cumsum(seen) - 1
    lk, rk = left[keep], right[keep]
    left = np.where(lk == -1, -1, new[lk])
    right = np.where(rk == -1, -1, new[rk])
    return (left, right) + tuple(c[keep] for c in columns)


_LIBM_LOGF = None


def _libm_logf():
    """The C library's ``logf`` (what XGBoost calls), or None when it cannot be loaded."""
    global _LIBM_LOGF
    if _LIBM_LOGF is None:
        _LIBM_LOGF = False
        try:
            import ctypes
            import ctypes.util
            for name in ("libm.so.6", "libm.dylib", "ucrtbase.dll", ctypes.util.find_library("m")):
                try:
                    f = ctypes.CDLL(name).logf
                except (OSError, AttributeError, TypeError):
                    continue
                f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
                if f(1.0) == 0.0 and abs(f(2.0) - 0.6931471805599453) < 1e-7:
                    _LIBM_LOGF = f
                    break
        except Exception:  # pragma: no cover - no ctypes: fall back to numpy
            pass
    return _LIBM_LOGF or None


def _logf32(x) -> np.ndarray:
    """float32 natural log as XGBoost computes it (``logf``); correctly rounded fallback."""
    x = np.asarray(x, dtype=np.float32)
    f = _libm_logf()
    with np.errstate(divide="ignore", invalid="ignore"):
        if f is None:
            return np.log(x.astype(np.float64)).astype(np.float32)
        return np.array([f(float(v)) for v in x.ravel()], dtype=np.float32).reshape(x.shape)


def _installed_version() -> str:
    try:
        import xgboost
        return str(xgboost.__version__)
    except ImportError:
        return "unknown"


FRONTEND = XGBoostFrontend()

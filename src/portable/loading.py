"""Reading model files: XGBoost ``.json`` / ``.ubj``, scikit-learn ``.joblib`` / ``.pkl``, ``.skops``.

.. warning::
   Loading a pickle (``.pkl``, ``.pickle``, ``.joblib``) runs code stored in the file.
   ``portable`` loads only the paths you name; never load a pickle you did not make or
   cannot trust. ``.skops`` files are loaded without running code (only scikit-learn,
   XGBoost and numpy types are trusted).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ModelLoadError, RuntimeUnavailableError

XGBOOST_EXTENSIONS = (".json", ".ubj")
PICKLE_EXTENSIONS = (".joblib", ".pkl", ".pickle")
SKOPS_EXTENSIONS = (".skops",)
EXTENSIONS = XGBOOST_EXTENSIONS + PICKLE_EXTENSIONS + SKOPS_EXTENSIONS

# Beyond skops' own trusted set, only types of the libraries portable imports from; never
# builtins (eval, exec, ...) or arbitrary modules.
_TRUSTED_PREFIXES = ("sklearn.", "xgboost.", "numpy.", "scipy.sparse.")


def load_model_file(path: str | os.PathLike):
    """Read a model file; returns an ``ir.Model`` (XGBoost files) or the trained object."""
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"No such model file: {str(p)!r}.")
    if p.is_dir():
        raise ModelLoadError(f"{str(p)!r} is a folder; name a model file "
                             f"({', '.join(EXTENSIONS)}).")
    if p.stat().st_size == 0:
        raise ModelLoadError(f"The model file {str(p)!r} is empty.")
    ext = p.suffix.lower()
    if ext in XGBOOST_EXTENSIONS:
        from .frontends import FRONTENDS
        return FRONTENDS.get("xgboost").import_file(p)
    if ext in PICKLE_EXTENSIONS:
        return _load_pickle(p)
    if ext in SKOPS_EXTENSIONS:
        return _load_skops(p)
    raise ModelLoadError(
        f"Unknown model file extension {ext or '(none)'!r} for {str(p)!r}. Supported: "
        f"{', '.join(EXTENSIONS)} (XGBoost .json/.ubj saved with save_model; scikit-learn "
        f"pickles through joblib.dump; skops.io.dump).")


def _load_pickle(p: Path):
    import joblib

    try:
        return joblib.load(p)
    except ModuleNotFoundError as e:
        raise ModelLoadError(f"{str(p)!r} needs the module {e.name!r}, which is not installed.") from None
    except Exception as e:  # any unpickling failure means the file is not a usable pickle
        raise ModelLoadError(f"{str(p)!r} is not a readable pickle/joblib file "
                             f"({type(e).__name__}: {e}). Is it truncated or of another kind?") from None


def _load_skops(p: Path):
    try:
        import skops.io as sio
    except ImportError:
        raise RuntimeUnavailableError(
            'Reading .skops files needs skops: pip install "portable[skops]".') from None
    try:
        untrusted = sio.get_untrusted_types(file=p)
    except Exception as e:
        raise ModelLoadError(f"{str(p)!r} is not a readable .skops file ({type(e).__name__}: {e}).") from None
    refused = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
    if refused:
        raise ModelLoadError(
            f"{str(p)!r} contains types portable does not trust: {', '.join(refused)}. "
            f"Only scikit-learn, XGBoost and numpy types are loaded from .skops files.")
    try:
        return sio.load(p, trusted=untrusted)
    except Exception as e:
        raise ModelLoadError(f"{str(p)!r} could not be loaded by skops ({type(e).__name__}: {e}).") from None

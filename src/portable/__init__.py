"""portable: make a trained XGBoost or scikit-learn model run anywhere, provably.

The layers::

    trained object --import_model--> ir.Model --convert--> artifact --load--> session.predict
                                        |
                                        +-- evaluate(): the reference evaluator
                                        +-- probe_rows(): rows at / around every threshold
                                        +-- verify(): every route against source and reference
"""

from . import errors, ir
from .api import convert, export, import_model, load
from .errors import PortableError
from .ir import check_model, evaluate
from .probes import probe_rows
from .verify import verify

__version__ = "0.1.0"

__all__ = [
    "PortableError",
    "__version__",
    "check_model",
    "convert",
    "errors",
    "evaluate",
    "export",
    "import_model",
    "ir",
    "load",
    "probe_rows",
    "verify",
]

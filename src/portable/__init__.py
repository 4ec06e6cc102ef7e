"""portable: make a trained XGBoost or scikit-learn model run anywhere, provably.

The layers::

    trained object --import_model--> ir.Model --convert--> artifact --load--> session.predict
                                        |
                                        +-- evaluate(): the reference evaluator
"""

from . import errors, ir
from .api import import_model
from .errors import PortableError
from .ir import check_model, evaluate
from .probes import probe_rows

__version__ = "0.1.0"

__all__ = [
    "PortableError",
    "__version__",
    "check_model",
    "errors",
    "evaluate",
    "import_model",
    "ir",
    "probe_rows",
]

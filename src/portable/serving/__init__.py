"""Serving: the SageMaker inference contract, locally and in containers.

* :mod:`.codecs`: request/response content types (stdlib only; inlined into packages),
* :mod:`.handlers`: one request in, one response out, per kind of model folder,
* :mod:`.app` / :mod:`.server`: ``portable serve`` (ASGI app under uvicorn workers),
* :mod:`.transform`: ``portable transform`` (SageMaker batch transform semantics; Dask),
* :mod:`.container`: the ``serve`` entry point of generated container images.
"""

from .codecs import CodecError
from .handlers import Response

__all__ = ["CodecError", "Response"]

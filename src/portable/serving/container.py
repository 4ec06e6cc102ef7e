"""The entry point of the bring-your-own-container image: ``docker run IMAGE serve``.

SageMaker starts the container with the single argument ``serve`` after extracting
model.tar.gz into ``/opt/ml/model`` (``SM_MODEL_DIR``). The server listens on 0.0.0.0 at
port 8080 or ``SAGEMAKER_BIND_TO_PORT``, with ``SAGEMAKER_MODEL_SERVER_WORKERS`` workers.
``PORTABLE_SERVE_HOST`` overrides the address (tests bind to 127.0.0.1).
"""

from __future__ import annotations

import os
import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "serve":
        print(f"usage: serve (SageMaker runs `docker run IMAGE serve`); got {argv!r}. "
              f"This image serves models; it does not train.", file=sys.stderr)
        return 2
    from ..errors import PortableError
    from .server import serve

    model_dir = os.environ.get("SM_MODEL_DIR") or os.path.join(
        os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"), "model")
    try:
        serve(model_dir, host=os.environ.get("PORTABLE_SERVE_HOST", "0.0.0.0"))
    except PortableError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())

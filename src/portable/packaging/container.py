"""Docker build context for the bring-your-own-container flavors (``onnx``, ``pmml``, ``native``).

The context holds a Dockerfile (exec-form ENTRYPOINT, the accept-bind-to-port label), a
``serve`` script, ``requirements.txt`` pinned to the versions installed where the package
was built (the full dependency closure, so the image runs what the gate ran), and a copy
of ``portable``'s own source (it is not on PyPI). Nothing here needs Docker; building and
pushing the image is the user's step.
"""

from __future__ import annotations

import platform
import re
from importlib import resources
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

# What `portable serve` needs in the image, besides the runtime of the flavor's format.
SERVER_REQUIREMENTS = ("numpy", "scipy", "click", "rich", "joblib", "uvicorn", "httptools",
                       "uvloop")
RUNTIME_REQUIREMENTS = {"onnxruntime": ("onnxruntime",), "jpmml": ("jpmml_evaluator", "py4j"),
                        "cpython": (), "gcc": (), "titus": ("titus2",)}
SYSTEM_PACKAGES = {"jpmml": ("default-jre-headless",), "gcc": ("gcc", "libc6-dev")}


def template(name: str) -> str:
    return resources.files("portable.packaging").joinpath("templates", name).read_text()


def requirement_closure(roots) -> dict[str, str]:
    """``{distribution: version}`` for ``roots`` and everything they require (markers
    evaluated for this interpreter, extras not followed), as installed here."""
    from packaging.requirements import Requirement

    pins, todo = {}, list(roots)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in pins:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # optional on this platform (e.g. uvloop on Windows)
        pins[key] = (dist.metadata["Name"], dist.version)
        for spec in dist.requires or ():
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return {name: version for name, version in sorted(pins.values(), key=lambda p: p[0].lower())}


def vendored_source() -> dict[str, bytes]:
    """Every source and data file of the installed ``portable`` package, by relative path."""
    root = Path(__file__).resolve().parent.parent
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"):
            out["src/portable/" + p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def build_context(flavor: str, runtime: str) -> tuple[dict[str, bytes], dict]:
    """Files of ``container/`` (relative paths) and a summary for the manifest."""
    from .. import __version__

    pins = requirement_closure(SERVER_REQUIREMENTS + RUNTIME_REQUIREMENTS.get(runtime, ()))
    system = SYSTEM_PACKAGES.get(runtime, ())
    apt = ("" if not system else
           "RUN apt-get update \\\n    && apt-get install -y --no-install-recommends "
           + " ".join(system) + " \\\n    && rm -rf /var/lib/apt/lists/*\n")
    py = ".".join(platform.python_version_tuple()[:2])
    base = f"python:{py}-slim"
    dockerfile = (template("Dockerfile.tmpl").replace("@@VERSION@@", __version__)
                  .replace("@@FLAVOR@@", flavor).replace("@@BASE_IMAGE@@", base)
                  .replace("@@SYSTEM_PACKAGES@@\n", apt))
    requirements = ("# Pinned by portable " + __version__ + " from the environment that built "
                    "and checked this package.\n"
                    + "".join(f"{n}=={v}\n" for n, v in pins.items()))
    files = {"Dockerfile": dockerfile.encode(), "requirements.txt": requirements.encode(),
             "serve": template("serve.tmpl").replace("@@VERSION@@", __version__).encode(),
             **vendored_source()}
    summary = {"base_image": base, "entrypoint": ["python", "-m", "portable.serving.container"],
               "system_packages": list(system), "requirements": pins, "runtime": runtime}
    return files, summary

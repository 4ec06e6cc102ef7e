"""Deployment packages: a model made ready for one hosting target, checked before it ships.

``package(model, target="sagemaker", flavor=F, out_dir=D)`` writes a folder::

    D/model.tar.gz            what the host extracts into /opt/ml/model (deterministic)
    D/portable-package.json   manifest: checksums (archive and members), signature, content
                              types, limits, image, environment, gate result, warnings
    D/create-model.json       the CreateModel request, with ${...} placeholders
    D/samples/                requests (csv, json, jsonl) and the responses they must get
    D/container/              (bring-your-own-container flavors) a Docker build context

and ``target="lambda"`` writes ``D/lambda.zip`` instead (see :mod:`.lambda_`). Nothing is
written unless the gate passes (``force=True`` writes anyway and records it): see
:mod:`.gates`. The manifest lives outside the archive because AWS's XGBoost container
loads every non-dot file of the archive as a model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..artifact import sha256, write_artifact
from ..errors import ArtifactError, PortableError

MANIFEST = "portable-package.json"
ARCHIVE = "model.tar.gz"
SCHEMA = 1
TARGETS = ("sagemaker", "lambda")
FLAVORS = ("xgboost-builtin", "sklearn", "onnx", "pmml", "native")


class PackagingError(PortableError):
    """A model cannot be packaged for this target or flavor (says which one can)."""


class GateFailedError(PackagingError):
    """The package's parity gate failed; nothing was written (``--force`` overrides)."""

    exit_code = 1


@dataclass
class Package:
    """A package folder and its manifest."""

    path: Path
    manifest: dict

    @property
    def flavor(self) -> str:
        return self.manifest["flavor"]

    @property
    def target(self) -> str:
        return self.manifest["target"]


def package(model, *, target: str = "sagemaker", flavor: str | None = None, out_dir,
            force: bool = False, region: str = "us-east-1", framework_version: str | None = None,
            image_uri: str | None = None, native_format: str | None = None,
            verify_options: dict | None = None) -> Package:
    """Package ``model`` for ``target``, gated on parity.

    Parameters
    ----------
    model : estimator, xgboost.Booster or model file path
    target : "sagemaker" or "lambda"
    flavor : str
        SageMaker: ``xgboost-builtin`` (AWS's XGBoost container), ``sklearn`` (AWS's
        scikit-learn container), or a bring-your-own-container image serving an artifact:
        ``onnx``, ``pmml``, ``native`` (C or Python code). Lambda: ignored.
    force : bool
        Write the package even when the gate fails (recorded in the manifest).
    region, framework_version, image_uri
        Pick the container image for ``create-model.json`` (``image_uri`` wins).
    native_format : "c" or "python", optional
        The code format of the ``native`` flavor (default: C when available, else Python).
    verify_options : dict, optional
        Passed to :func:`portable.verify` by the gate (``n_rows``, ``n_probe``, ...).

    Returns
    -------
    Package

    Examples
    --------
    >>> pkg = package("model.json", flavor="xgboost-builtin", out_dir="dist/xgb")  # doctest: +SKIP
    >>> pkg.manifest["container"]["image"]                                        # doctest: +SKIP
    '683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5'
    """
    if target not in TARGETS:
        raise PackagingError(f"Unknown target {target!r}; choose one of {', '.join(TARGETS)}.")
    if target == "lambda":
        from .lambda_ import build_lambda
        files, manifest = build_lambda(model, force=force, verify_options=verify_options)
    else:
        if flavor not in FLAVORS:
            raise PackagingError(f"Unknown SageMaker flavor {flavor!r}; choose one of "
                                 f"{', '.join(FLAVORS)}.")
        from .sagemaker import build_sagemaker
        files, manifest = build_sagemaker(model, flavor, force=force, region=region,
                                          framework_version=framework_version,
                                          image_uri=image_uri, native_format=native_format,
                                          verify_options=verify_options)
    return write_package(out_dir, files, manifest)


# ----------------------------------------------------------------------------- folders
def write_package(out_dir, files: dict[str, bytes], manifest: dict) -> Package:
    """Write ``files`` and the manifest into ``out_dir`` atomically (temporary sibling
    folder renamed into place); an existing folder is replaced only if it is a package."""
    out = Path(out_dir).resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).exists())):
        raise ArtifactError(f"{str(out)!r} exists and is not a portable package folder; "
                            f"choose an empty or new folder.")
    manifest = {**manifest, "kind": "portable-package", "schema": SCHEMA}
    # The same atomic writer as artifacts (temporary sibling, rename, stale-writer cleanup,
    # sha256 + size of every file in the manifest).
    art = write_artifact(out, files, manifest, manifest_name=MANIFEST)
    return Package(art.path, art.manifest)


def read_package(path) -> Package:
    """Open a package folder and check every file against the manifest's checksums."""
    p = Path(path)
    m = p / MANIFEST
    if not m.is_file():
        raise ArtifactError(f"{str(p)!r} is not a package folder (no {MANIFEST}); create one "
                            f"with `portable package`.")
    try:
        manifest = json.loads(m.read_text())
    except ValueError as e:
        raise ArtifactError(f"{str(m)!r} is not valid JSON: {e}.") from None
    for name, meta in manifest.get("files", {}).items():
        f = p / name
        if not f.is_file():
            raise ArtifactError(f"The package {str(p)!r} lacks {name!r}.")
        if sha256(f.read_bytes()) != meta["sha256"]:
            raise ArtifactError(f"{name!r} in {str(p)!r} does not match its checksum in "
                                f"{MANIFEST}: the package was modified after it was built.")
    return Package(p, manifest)

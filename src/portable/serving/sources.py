"""What ``portable serve`` and ``portable transform`` accept, made into a model folder.

* an artifact folder (``portable.json``), served by its runtime;
* a package folder (``portable-package.json`` + ``model.tar.gz``), checked against its
  manifest and extracted once;
* a ``model.tar.gz`` file, extracted once;
* an already extracted model folder (``/opt/ml/model`` inside a container).

The server's parent process prepares the folder once; its workers only load from it.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArtifactError


@dataclass
class Source:
    """A model folder ready to load, its flavor, and what it came from."""

    model_dir: Path
    flavor: str
    origin: str
    manifest: dict | None = None
    temporary: bool = False

    def cleanup(self) -> None:
        """Delete the folder if it was extracted for this source."""
        if self.temporary:
            shutil.rmtree(self.model_dir, ignore_errors=True)

    def open(self):
        """A fresh handler (one model load)."""
        from .handlers import open_model_dir

        return open_model_dir(self.model_dir, self.flavor)


def _tempdir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="portable-serve-"))
    atexit.register(shutil.rmtree, d, True)
    return d


def prepare(path, *, extract_to=None) -> Source:
    """Resolve ``path`` into a :class:`Source` (extracting archives; checking checksums)."""
    from ..packaging import ARCHIVE, MANIFEST, read_package
    from ..packaging.unpack import extract
    from .handlers import detect_flavor

    p = Path(path)
    if not p.exists():
        raise ArtifactError(f"No such package, artifact or model folder: {str(p)!r}.")
    if p.is_file():
        if not p.name.endswith((".tar.gz", ".tgz")):
            raise ArtifactError(f"{str(p)!r} is a file; serve a package folder, an artifact "
                                f"folder or a model.tar.gz.")
        d = extract(p, Path(extract_to) if extract_to else _tempdir())
        return Source(d, _flavor(detect_flavor(d), d), str(p), temporary=not extract_to)
    if (p / MANIFEST).is_file():
        pkg = read_package(p)
        if pkg.target != "sagemaker":
            raise ArtifactError(f"{str(p)!r} is a {pkg.target} package; serve a SageMaker "
                                f"package or an artifact folder.")
        d = extract(p / ARCHIVE, Path(extract_to) if extract_to else _tempdir())
        return Source(d, pkg.flavor, str(p), pkg.manifest, temporary=not extract_to)
    flavor = detect_flavor(p)
    return Source(p, _flavor(flavor, p), str(p))


def _flavor(detected: str, d: Path) -> str:
    if detected != "artifact":
        return detected
    import json
    fmt = json.loads((d / "portable.json").read_text()).get("format", "artifact")
    return fmt if fmt in ("onnx", "pmml") else "native" if fmt in ("c", "python") else "artifact"

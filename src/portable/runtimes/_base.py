"""The base of the built-in runtimes: one ``load`` for all of them.

``load(artifact)`` takes an ``Artifact`` or a folder path, reads and checks the folder
(``portable.artifact.read_artifact``: manifest and checksums), refuses with
``RuntimeUnavailableError`` when ``available()`` says why the engine cannot run here, and
hands the artifact to the runtime's ``open``.
"""

from __future__ import annotations

import os

from ..errors import RuntimeUnavailableError


class Runtime:
    name: str = ""
    formats: tuple = ()

    @classmethod
    def available(cls) -> str | None:
        """None when the engine can run here, else why not (with the install command)."""
        return None

    def load(self, artifact, **options):
        """Open ``artifact`` (an ``Artifact`` or a folder path) and return a session."""
        if isinstance(artifact, (str, os.PathLike)):
            from ..artifact import read_artifact
            artifact = read_artifact(artifact)
        why = self.available()
        if why:
            raise RuntimeUnavailableError(why)
        return self.open(artifact, **options)

    def open(self, artifact, **options):  # pragma: no cover - every runtime defines it
        raise NotImplementedError

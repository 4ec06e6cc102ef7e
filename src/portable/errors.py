"""Errors raised by ``portable``.

Every error a user can cause is a :class:`PortableError`; the CLI turns them into exit
code 2 with the message, never a traceback.

::

    PortableError
    ├── ModelLoadError           a model file is missing, empty, corrupt or of an unknown kind
    ├── UnsupportedModelError    no frontend for this estimator (lists what is supported)
    ├── UnsupportedFeatureError  a frontend knows the estimator, not this setting of it
    ├── NotFittedError           the estimator was never fitted
    ├── InvalidModelError        an IR model breaks an invariant (``ir.check_model``)
    ├── InputError               rows given to evaluate/predict do not fit the signature
    ├── UnknownNameError         a registry lookup (format, runtime, ...) found nothing
    ├── ConversionError          a converter could not emit the model
    ├── RuntimeUnavailableError  an optional engine or toolchain is not installed
    │   └── RuntimeFailedError   an engine process crashed or hung, and again once restarted
    └── ArtifactError            an artifact folder is missing, incomplete or tampered with
        └── UnsafeArchiveError   an archive holds a member that must not be unpacked

Warnings: :class:`RuntimeRestartWarning` (an engine process was restarted after a fault).
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "ConversionError",
    "InputError",
    "InvalidModelError",
    "ModelLoadError",
    "NotFittedError",
    "PortableError",
    "RuntimeFailedError",
    "RuntimeRestartWarning",
    "RuntimeUnavailableError",
    "UnsafeArchiveError",
    "UnknownNameError",
    "UnsupportedFeatureError",
    "UnsupportedModelError",
]


class PortableError(Exception):
    """Base class of every error ``portable`` raises on purpose."""

    exit_code = 2


class ModelLoadError(PortableError):
    """A model file could not be read: missing, empty, corrupt or of an unknown kind."""


class UnsupportedModelError(PortableError):
    """No frontend knows this kind of estimator."""


class UnsupportedFeatureError(PortableError):
    """The estimator is known, but one of its settings cannot be represented."""


class NotFittedError(PortableError):
    """The estimator has not been fitted."""


class InvalidModelError(PortableError):
    """An IR model violates one of its invariants."""


class InputError(PortableError):
    """Input rows do not match the model's signature (shape, dtype, values)."""


class UnknownNameError(PortableError, KeyError):
    """A registry has no entry of that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConversionError(PortableError):
    """A converter could not emit the model in the requested format."""


class RuntimeUnavailableError(PortableError):
    """An optional engine, package or toolchain is not available on this machine."""


class ArtifactError(PortableError):
    """An artifact folder is missing, incomplete or inconsistent."""


class RuntimeFailedError(RuntimeUnavailableError):
    """An engine process (java, node) crashed or stopped answering, and did so again after
    one restart. The message names the engine and both faults."""


class UnsafeArchiveError(ArtifactError):
    """An archive member is unsafe to unpack (``..``, an absolute path, a link, a device,
    a name escaping the destination, or sizes beyond the limit); nothing was written."""


class RuntimeRestartWarning(RuntimeWarning):
    """An engine process crashed or hung and was restarted; the request was retried."""

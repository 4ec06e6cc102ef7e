"""Image URIs of AWS's SageMaker inference containers, without the 300 MB ``sagemaker`` SDK.

The SDK builds ``{account}.dkr.ecr.{region}.amazonaws.com/{repository}:{tag}`` from its
``image_uri_config/<framework>.json``. The rows below are the ones recorded in
``/work/shared/reference/sagemaker-contract.md`` §5 (produced by ``sagemaker==2.257.7``
``image_uris.retrieve(..., image_scope="inference")``): three regions, one registry account
per region shared by the XGBoost and scikit-learn repositories. Another region or version
is an error that names ``--image-uri`` (any URI is accepted verbatim).

Tags: XGBoost uses the version itself; scikit-learn appends ``-cpu-py3``.
"""

from __future__ import annotations

from ..errors import UnknownNameError

ACCOUNTS = {
    "us-east-1": "683313688378",
    "us-west-2": "246618743249",
    "eu-west-1": "141502667606",
}
FRAMEWORKS = {
    # framework: (repository, versions oldest -> newest, tag suffix)
    "xgboost": ("sagemaker-xgboost",
                ("0.90-1", "0.90-2", "1.0-1", "1.2-1", "1.2-2", "1.3-1", "1.5-1", "1.7-1",
                 "3.0-5"), ""),
    "sklearn": ("sagemaker-scikit-learn", ("0.23-1", "1.0-1", "1.2-1"), "-cpu-py3"),
}


def image_uri(framework: str, version: str, region: str) -> str:
    """The inference image of ``framework`` ``version`` in ``region``.

    Examples
    --------
    >>> image_uri("xgboost", "1.7-1", "us-west-2")
    '246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1'
    >>> image_uri("sklearn", "1.2-1", "eu-west-1")
    '141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3'
    """
    repo, versions, suffix = FRAMEWORKS[framework]
    if version not in versions:
        raise UnknownNameError(f"No {framework} inference image {version!r} in portable's "
                               f"table (known: {', '.join(versions)}); pass --image-uri.")
    if region not in ACCOUNTS:
        raise UnknownNameError(f"No image registry for region {region!r} in portable's table "
                               f"(known: {', '.join(sorted(ACCOUNTS))}); pass --image-uri.")
    return f"{ACCOUNTS[region]}.dkr.ecr.{region}.amazonaws.com/{repo}:{version}{suffix}"


def default_version(framework: str, trained_with: str | None) -> str:
    """The newest image whose major.minor is not above the training library's version
    (a model saved by XGBoost 3.2 loads in the 3.0 image; scikit-learn pickles need the
    same minor version, which the caller warns about)."""
    _, versions, _ = FRAMEWORKS[framework]
    if not trained_with:
        return versions[-1]
    try:
        have = tuple(int(p) for p in trained_with.split(".")[:2])
    except ValueError:
        return versions[-1]
    ok = [v for v in versions if _major_minor(v) <= have]
    return ok[-1] if ok else versions[0]


def _major_minor(v: str) -> tuple[int, int]:
    head = v.split("-")[0].split(".")
    return int(head[0]), int(head[1]) if len(head) > 1 else 0

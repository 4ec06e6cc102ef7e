"""The ``portable`` command line. Flags mirror the API's keywords; no logic lives here.

Exit codes: 0 success, 1 parity check failed, 2 bad input or usage, 3 internal error.
"""

from __future__ import annotations

import functools
import json
import sys

import click

from .errors import PortableError

PICKLE_WARNING = ("Loading a .pkl/.pickle/.joblib file runs code stored in it: name only "
                  "files you trust (.skops and XGBoost .json/.ubj files run no code).")


def _handle_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PortableError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(e.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as e:  # a bug of ours: say so plainly, keep the detail for reports
            if kwargs.get("debug") or _debug():
                raise
            click.echo(f"internal error: {type(e).__name__}: {e}\n"
                       f"(set PORTABLE_DEBUG=1 for the traceback, and please report it)", err=True)
            sys.exit(3)
    return wrapper


def _debug() -> bool:
    import os
    return os.environ.get("PORTABLE_DEBUG", "") not in ("", "0")


def _emit_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             help="portable: make a trained XGBoost or scikit-learn model run anywhere, "
                  "provably.\n\nMODEL arguments take XGBoost .json/.ubj, scikit-learn "
                  ".joblib/.pkl, or .skops files. " + PICKLE_WARNING)
@click.version_option(package_name="portable")
def main():
    pass


@main.command(help="Print the IR summary of MODEL (estimator, task, features, classes, "
                   "trees, depth, leaves). " + PICKLE_WARNING)
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_handle_errors
def inspect(model, as_json):
    from .api import import_model
    from .summary import describe

    info = describe(import_model(model))
    if as_json:
        _emit_json(info)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for k, v in info.items():
        if isinstance(v, list):
            v = ", ".join(map(str, v[:20])) + (f" ... ({len(v)} in all)" if len(v) > 20 else "")
        table.add_row(f"[bold]{k}[/bold]", str(v))
    Console().print(table)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_handle_errors
def formats(as_json):
    """Print the support matrix (estimators x export formats), built from the registries."""
    from .summary import support_matrix

    estimators, fmts, cells = support_matrix()
    if as_json:
        _emit_json({e: {f: cells[(e, f)] for f in fmts} for e in estimators})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="portable: estimators x formats")
    table.add_column("estimator")
    for f in fmts:
        table.add_column(f)
    for e in estimators:
        table.add_row(e, *[{"yes": "✓", "no": "✗"}.get(cells[(e, f)], cells[(e, f)]) for f in fmts])
    Console().print(table)


@main.command(help="Export MODEL to an artifact folder in FORMAT, checked against the "
                   "reference evaluator on threshold-probe rows. " + PICKLE_WARNING)
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--format", "format_", required=True, help="Target format (see `portable formats`).")
@click.option("-o", "--out-dir", required=True, type=click.Path(file_okay=False),
              help="Artifact folder to write (replaced atomically).")
@click.option("--engine", default=None,
              help="Conversion engine: portable (default, from the IR) or an upstream one "
                   "(skl2onnx, onnxmltools for ONNX; sklearn2pmml for PMML, an AGPL extra "
                   "that needs Java); ONNX exports of estimators without a portable "
                   "frontend use an upstream engine automatically.")
@click.option("--sample", default=None, type=click.Path(dir_okay=False),
              help="CSV of example input rows (with a header): upstream engines infer input "
                   "types from it and check the graph on it.")
@click.option("--runtime", default=None, help="Runtime for the admission parity check.")
@click.option("--no-check", is_flag=True, help="Skip the parity check at export.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_handle_errors
def export(model, format_, out_dir, engine, sample, runtime, no_check, as_json):
    from .api import export as do_export

    with _progress(f"exporting to {format_}", quiet=as_json):
        options = {"engine": engine} if engine else {}
        if sample:
            options["sample"] = _read_sample(sample)
        art = do_export(model, format=format_, out_dir=out_dir, runtime=runtime,
                        check=not no_check, **options)
    parity = art.manifest.get("parity", {})
    if as_json:
        _emit_json({"artifact": str(art.path), "format": art.format,
                    "files": sorted(art.manifest["files"]), "parity": parity})
    else:
        click.echo(f"wrote {art.path} ({', '.join(sorted(art.manifest['files']))}, portable.json)")
        click.echo(_parity_line(parity))
    if _parity_failed(parity, art.manifest["signature"]["task"]):
        sys.exit(1)


def _read_sample(path: str):
    import pandas as pd

    from .errors import InputError
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise InputError(f"Cannot read the sample CSV {path!r}: {e}") from None


def _parity_line(p: dict) -> str:
    if not p.get("checked"):
        return f"parity: not checked ({p.get('reason', 'unknown reason')})"
    pr = p["prediction"]
    rows = "sample rows vs the source object" if p.get("reference") == "source object" else "probe rows"
    head = f"parity ({p['runtime']}, {p['rows']} {rows}): "
    if pr.get("shape_mismatch"):
        a, b = pr["shape_mismatch"]
        return head + f"FAILED: outputs of shape {a} and {b} cannot be compared"
    return head + (f"max abs {pr['max_abs']:.3g}, max ULP {pr['max_ulp']:.0f} "
                   f"({pr.get('ulp_dtype', 'float64')}), label flips {pr['label_flips']}")


def _parity_failed(p: dict, task: str) -> bool:
    pr = p.get("prediction", {})
    return bool(p.get("checked")) and (pr.get("label_flips", 0) > 0 or "shape_mismatch" in pr)


class _progress:
    """A spinner on stderr while long work runs (silent when not a terminal or --json)."""

    def __init__(self, what: str, *, quiet: bool = False):
        self.what, self.quiet, self.status = what, quiet, None

    def update(self, step: str) -> None:
        if self.status is not None:
            self.status.update(f"{self.what}: {step}")

    def __enter__(self):
        if not self.quiet and sys.stderr.isatty():
            from rich.console import Console
            self.status = Console(stderr=True).status(self.what)
            self.status.__enter__()
        return self

    def __exit__(self, *exc):
        if self.status is not None:
            self.status.__exit__(*exc)
        return False


@main.command()
@click.argument("artifact", type=click.Path(file_okay=False))
@click.option("--input", "input_", required=True, type=click.Path(dir_okay=False),
              help="CSV rows (a header row of feature names is optional; '-' for stdin).")
@click.option("--output", default="-", help="CSV file for predictions (default stdout).")
@click.option("--runtime", default=None, help="Runtime (default: the artifact's).")
@click.option("--margin", is_flag=True, help="Print raw scores before the link.")
@_handle_errors
def predict(artifact, input_, output, runtime, margin):
    """Predict the rows of a CSV file with an exported ARTIFACT folder."""
    from .api import load
    from .csvio import read_rows, write_rows

    session = load(artifact, runtime=runtime)
    try:
        sig = session_signature(artifact)
        X = read_rows(input_, sig)
        Y = session.predict(X, output="margin" if margin else "prediction")
    finally:
        close = getattr(session, "close", None)
        if close:
            close()
    names = list(sig.output_names) if not margin else [f"margin{k}" for k in range(Y.shape[1])]
    if not margin and Y.shape[1] != len(names):
        names = [f"y{k}" for k in range(Y.shape[1])]
    write_rows(output, names, Y)


def session_signature(artifact):
    from .artifact import read_artifact
    return read_artifact(artifact).signature


def _register_subcommands() -> None:
    import importlib

    from .commands import MODULES

    for name in MODULES:
        for cmd in importlib.import_module(f"portable.commands.{name}").COMMANDS:
            main.add_command(cmd)


_register_subcommands()

if __name__ == "__main__":  # pragma: no cover
    main()

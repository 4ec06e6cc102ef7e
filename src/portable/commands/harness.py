"""``portable verify``, ``portable bench`` and ``portable report``: the parity-and-latency
harness on the command line. Flags mirror the keywords of ``portable.verify.verify``,
``portable.bench.bench`` and ``portable.report.write_report``; no logic lives here.

Exit codes: 0 success; 1 a route failed parity (verify) or errored; 2 bad input or usage.
"""

from __future__ import annotations

import functools
import sys

import click

PICKLE = ("Loading a .pkl/.pickle/.joblib file runs code stored in it: name only files you "
          "trust (.skops and XGBoost .json/.ubj files run no code).")


def _errors(fn):
    """portable.cli's error handling, imported when a command runs (cli imports us)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..cli import _handle_errors
        return _handle_errors(fn)(*args, **kwargs)
    return wrapper


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


class _Bar:
    """A rich progress bar on stderr (silent for --json or when stderr is not a terminal)."""

    def __init__(self, what: str, quiet: bool):
        self.what, self.quiet, self.progress, self.task = what, quiet, None, None

    def __enter__(self):
        if not self.quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     TextColumn("{task.completed}/{task.total}"),
                                     TimeElapsedColumn(), console=Console(stderr=True),
                                     transient=True)
            self.progress.__enter__()
            self.task = self.progress.add_task(self.what, total=1)
        return self

    def __call__(self, step: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description=f"{self.what}: {step}",
                                 completed=done, total=total)

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)
        return False


def _save_report(result, path: str | None) -> None:
    if not path:
        return
    from ..report import write_report

    if path.lower().endswith(".md"):
        write_report([result], md_path=path)
    else:
        write_report([result], html_path=path)
    click.echo(f"wrote {path}", err=True)


def _emit(result) -> None:
    from ..report import dumps
    click.echo(dumps(result))


# ----------------------------------------------------------------------------- verify
@click.command(help="Export MODEL through every available route, run each runtime and "
                    "compare it with the source library and the reference evaluator on "
                    "held-out, NaN and threshold-probe rows (margin, prediction, label). "
                    "Routes whose converter or runtime is missing are reported as skipped. "
                    "Exit 1 when any route fails. " + PICKLE)
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--formats", default=None, help="Comma-separated formats (default: all).")
@click.option("--runtimes", default=None,
              help="Comma-separated runtimes to run besides each format's default.")
@click.option("--engines", default=None,
              help="Upstream engines to verify as extra routes (skl2onnx, onnxmltools, "
                   "sklearn2pmml).")
@click.option("--data", default=None, type=click.Path(dir_okay=False),
              help="CSV of held-out rows (default: rows sampled from the model's thresholds).")
@click.option("--rows", "n_rows", default=1000, show_default=True,
              help="Sampled held-out rows when --data is not given.")
@click.option("--nan-rows", "n_nan", default=1000, show_default=True,
              help="Held-out rows with 15% of numeric cells set missing.")
@click.option("--probes", "n_probe", default=2000, show_default=True,
              help="Threshold-probe rows (at and one ULP around split thresholds).")
@click.option("--tolerance", "tolerance", multiple=True, metavar="KEY.STAGE.METRIC=VALUE",
              help="Override a bound, e.g. onnx.prediction.max_abs=1e-6 or "
                   "pmml/jpmml.label.label_flips=0 (repeatable; 'none' removes a bound).")
@click.option("--budget", default=10.0, show_default=True,
              help="Seconds of prediction per runtime before rows are subsampled (0: none).")
@click.option("--diagnose", default=3, show_default=True,
              help="Mismatching rows to localise (tree, node, threshold) per failed route.")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.option("--report", "report_path", default=None, type=click.Path(dir_okay=False),
              help="Also write a report: .html (self-contained, with plots) or .md.")
@_errors
def verify(model, formats, runtimes, engines, data, n_rows, n_nan, n_probe, tolerance, budget,
           diagnose, seed, as_json, report_path):
    from ..api import import_model
    from ..csvio import read_rows
    from ..verify import parse_tolerances, verify as do_verify

    tol = parse_tolerances([t for item in tolerance for t in item.split(",") if t.strip()])
    rows = read_rows(data, import_model(model).signature) if data else None
    with _Bar("verifying", as_json) as bar:
        res = do_verify(model, formats=_split(formats), runtimes=_split(runtimes),
                        engines=_split(engines), data=rows, n_rows=n_rows, n_nan=n_nan,
                        n_probe=n_probe, seed=seed, tolerances=tol, budget=budget or None,
                        diagnose=diagnose, progress=bar)
    if as_json:
        _emit(res)
    else:
        _print_verify(res)
    _save_report(res, report_path)
    sys.exit(0 if res["passed"] else 1)


def _print_verify(res: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..report import _fmt, route_summary

    con = Console()
    m = res["model"]
    t = Table(title=f"parity: {m['estimator']} ({m['task']}); rows: "
                    + ", ".join(f"{n} {k}" for k, n in res["rows"].items()))
    for c in ("route", "status", "rows", "margin abs/rel/ULP", "prediction abs/rel/ULP",
              "flips", "s", "note"):
        t.add_column(c, overflow="fold")
    src = res["source"]
    t.add_row("source library", src["status"], "", "", "", "", "", escape(src.get("reason", "")))
    for rid, r in res["routes"].items():
        s = route_summary(r).get("vs_reference", {})
        cells = []
        for stage in ("margin", "prediction"):
            x = s.get(stage)
            cells.append("-" if not x else f"{_fmt(x.get('max_abs'))} / {_fmt(x.get('max_rel'))}"
                                           f" / {_fmt(x.get('max_ulp'), 2)}")
        rows = r.get("rows", {})
        n = f"{sum(v['compared'] for v in rows.values())}" if rows else ""
        flips = s.get("label", {}).get("label_flips")
        color = {"passed": "green", "failed": "red", "error": "red"}.get(r["status"], "dim")
        t.add_row(escape(rid), f"[{color}]{r['status']}[/{color}]", n, *cells,
                  "" if flips is None else str(flips), _fmt(r.get("seconds")),
                  escape((r.get("reason") or r.get("subsampled") or "")[:200]))
    con.print(t)
    for rid, r in res["routes"].items():
        for d in r.get("divergences", []):
            con.print(f"[bold]{escape(rid)}[/bold] ({d['kind']}): {escape(d['message'])}",
                      highlight=False)
    con.print(("[green]passed[/green]" if res["passed"] else "[red]FAILED[/red]")
              + f" in {res['seconds']:.1f} s")


# ----------------------------------------------------------------------------- bench
@click.command(help="Time MODEL's runtimes next to the source library and its peers: "
                    "single-row latency p50/p90/p99, batch throughput (1, 100, 10,000 rows), "
                    "cold start and peak memory in a fresh process; interleaved, shuffled "
                    "rounds after warm-up; ratios against the source library. " + PICKLE)
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--formats", default=None, help="Comma-separated formats (default: all).")
@click.option("--runtimes", default=None,
              help="Comma-separated runtimes to time besides each format's default.")
@click.option("--engines", default=None,
              help="Upstream ONNX engines to time (default: onnxmltools for XGBoost, "
                   "skl2onnx for scikit-learn).")
@click.option("--no-peers", is_flag=True, help="Time portable's runtimes and the source only.")
@click.option("--data", default=None, type=click.Path(dir_okay=False),
              help="CSV of rows to predict (default: rows sampled from the model).")
@click.option("--rows", "n_rows", default=10_000, show_default=True)
@click.option("--rounds", default=25, show_default=True, help="Single-row rounds.")
@click.option("--calls", default=100, show_default=True, help="Single-row calls per round.")
@click.option("--cold-repeats", default=1, show_default=True,
              help="Fresh processes per runtime for cold start and memory.")
@click.option("--budget", default=4.0, show_default=True,
              help="Seconds per runtime per measurement before calls are cut down.")
@click.option("--quick", is_flag=True, help="A smoke-sized run (seconds, not minutes).")
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.option("--report", "report_path", default=None, type=click.Path(dir_okay=False),
              help="Also write a report: .html (self-contained, with plots) or .md.")
@_errors
def bench(model, formats, runtimes, engines, no_peers, data, n_rows, rounds, calls,
          cold_repeats, budget, quick, seed, as_json, report_path):
    from ..api import import_model
    from ..bench import bench as do_bench
    from ..csvio import read_rows

    rows = read_rows(data, import_model(model).signature) if data else None
    with _Bar("benchmarking", as_json) as bar:
        res = do_bench(model, formats=_split(formats), runtimes=_split(runtimes),
                       engines=_split(engines), peers=not no_peers, data=rows, n_rows=n_rows,
                       rounds=rounds, calls=calls, cold_repeats=cold_repeats, budget=budget,
                       quick=quick, seed=seed, progress=bar)
    if as_json:
        _emit(res)
    else:
        from ..report import render_markdown
        click.echo(render_markdown([res], title=f"portable bench: {res['model']['name']}"))
    _save_report(res, report_path)
    errors = [n for n, e in res["runners"].items()
              if e["status"] == "error" and e["kind"] == "portable"]
    sys.exit(1 if errors else 0)


# ----------------------------------------------------------------------------- report
@click.command(help="Re-render saved verify / bench / suite results (JSON from --json or "
                    "benchmarks/run_all.py) as one self-contained HTML report and/or Markdown.")
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("-o", "--out", "out", default="report.html", show_default=True,
              type=click.Path(dir_okay=False), help="HTML file to write ('' for none).")
@click.option("--markdown", default=None, type=click.Path(dir_okay=False),
              help="Also write a Markdown summary here.")
@_errors
def report(results, out, markdown):
    from ..report import load_results, write_report

    data = load_results(results)
    for p in write_report(data, html_path=out or None, md_path=markdown):
        click.echo(f"wrote {p}")


COMMANDS = [verify, bench, report]

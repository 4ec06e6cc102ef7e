"""``portable train`` and ``portable tune``: the seed's training and tuning walkthroughs.

Flags mirror :func:`portable.recipes.train` and :func:`portable.tune.tune`; no logic here.
"""

from __future__ import annotations

import functools
import sys

import click


def _handled(fn):
    """``portable.cli``'s error handling, looked up at call time.

    Importing ``portable.cli`` here at import time would be circular: the CLI imports
    this module while it registers its commands.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..cli import _handle_errors
        return _handle_errors(fn)(*args, **kwargs)
    return wrapper


def _recipe_names() -> str:
    from ..recipes import RECIPES
    return ", ".join(RECIPES.names())


def _params(pairs, variant) -> dict:
    from ..errors import InputError

    out = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name.strip():
            raise InputError(f"--param takes NAME=VALUE (e.g. max_depth=4); got {pair!r}.")
        out[name.strip()] = value.strip()
    if variant:
        out["variant"] = variant
    return out


def _console(**kw):
    from rich.console import Console
    # Off a terminal rich assumes 80 columns and would cut the tables' columns short.
    return Console(width=None if sys.stdout.isatty() else 160, **kw)


_PARAM_HELP = ("Recipe parameter NAME=VALUE (repeatable), e.g. max_depth=4, eta=0.05, "
               "rows=2000; unknown names are refused with the list of known ones.")


@click.command(help="Train RECIPE (" + _recipe_names() + ") and save the model, the "
                    "train/validation/test splits (CSV), metrics.json and recipe.json to "
                    "OUT_DIR. The same --seed gives the same metrics.")
@click.argument("recipe")
@click.option("-o", "--out-dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write (created; files in it are replaced).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--variant", default=None, help="Recipe variant, e.g. sentiment's 'logistic'.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help=_PARAM_HELP)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_handled
def train(recipe, out_dir, seed, variant, params, as_json):
    from ..recipes import train as do_train

    res = do_train(recipe, out_dir=out_dir, seed=seed, **_params(params, variant))
    files = sorted(p.name for p in res.paths.values())
    if as_json:
        from ..cli import _emit_json
        _emit_json({"recipe": res.recipe, "out_dir": str(res.out_dir), "files": files,
                    "seed": res.seed, "params": res.params, "metrics": res.metrics})
        return
    from rich.table import Table

    t = Table(title=f"{res.recipe} ({res.params['variant']}, seed {res.seed})")
    t.add_column("metric")
    for part in res.metrics:
        t.add_column(part, justify="right")
    for name in next(iter(res.metrics.values())):
        t.add_row(name, *[f"{res.metrics[p][name]:.4f}" for p in res.metrics])
    _console().print(t)
    click.echo(f"wrote {res.out_dir} ({', '.join(files)})")


@click.command(help="Tune RECIPE (" + _recipe_names() + ") like a SageMaker tuning job: "
                    "MAX_JOBS trainings, PARALLEL_JOBS at a time, over the recipe's "
                    "hyperparameter ranges; poor trials are stopped early (median rule). "
                    "Prints the trial table; with -o, saves the retrained best model "
                    "(train's layout) plus trials.csv, trials.json and tuning.json.")
@click.argument("recipe")
@click.option("--max-jobs", default=10, show_default=True, type=int, help="Trials in all.")
@click.option("--parallel-jobs", default=1, show_default=True, type=int,
              help="Trials at once (threads; each trial's XGBoost uses one).")
@click.option("--strategy", type=click.Choice(["bayesian", "random"]), default="bayesian",
              show_default=True)
@click.option("--objective", default=None,
              help="validation:<metric>, e.g. validation:rmse (default: the recipe's); "
                   "minimised or maximised as the metric requires.")
@click.option("--pruner", type=click.Choice(["median", "none"]), default="median",
              show_default=True, help="Early stopping of poor trials.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--variant", default=None, help="Recipe variant, e.g. sentiment's 'logistic'.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A fixed (not tuned) recipe parameter, repeatable.")
@click.option("-o", "--out-dir", default=None, type=click.Path(file_okay=False),
              help="Folder for the best model and the trial table.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_handled
def tune(recipe, max_jobs, parallel_jobs, strategy, objective, pruner, seed, variant, params,
         out_dir, as_json):
    from ..tune import trials_table, tune as do_tune

    kw = dict(max_jobs=max_jobs, parallel_jobs=parallel_jobs, strategy=strategy,
              objective=objective, pruner=pruner, seed=seed, out_dir=out_dir,
              params=_params(params, variant))
    if as_json:
        res = do_tune(recipe, **kw)
        from ..cli import _emit_json
        _emit_json({"recipe": res.recipe, "objective": res.objective,
                    "direction": res.direction, "strategy": res.strategy,
                    "pruning": res.pruning, "trials": res.trials, "best": res.best,
                    "best_metrics": res.best_result.metrics if res.best_result else None,
                    "out_dir": str(res.out_dir) if res.out_dir else None})
        return
    res = _tune_with_progress(do_tune, recipe, kw)
    _console().print(trials_table(res))
    if res.best is None:
        click.echo("every trial was pruned: no model to keep (try --pruner none or more jobs)")
        return
    m = res.best_result.metrics
    click.echo(f"best trial {res.best['number']}: {res.objective} = {res.best['value']:.6g}; "
               "retrained: " + ", ".join(f"{part} {k} {v:.4g}" for part in m
                                         for k, v in m[part].items()))
    if res.out_dir is not None:
        click.echo(f"wrote {res.out_dir} ({', '.join(sorted(p.name for p in res.paths.values()))})")


def _tune_with_progress(do_tune, recipe, kw):
    """Run the job printing one line per finished trial on stderr, under a progress bar
    when stderr is a terminal (a log file gets the lines only)."""
    def line(row, done, total):
        value = "" if row["value"] is None else f"{row['value']:.5g}"
        rounds = "" if row["rounds"] is None else f", {row['rounds']} rounds"
        return (f"trial {row['number']:>3} {row['state']:<8} {value}{rounds} "
                f"({row['duration_s']:.1f}s)  [{done}/{total}]")

    if not sys.stderr.isatty():
        return do_tune(recipe, progress=lambda *a: click.echo(line(*a), err=True), **kw)

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True),
                  transient=True) as bar:
        task = bar.add_task(f"tuning {recipe}", total=kw["max_jobs"])

        def progress(row, done, total):
            bar.console.print(line(row, done, total), highlight=False)
            bar.update(task, completed=done)

        return do_tune(recipe, progress=progress, **kw)


COMMANDS = [train, tune]

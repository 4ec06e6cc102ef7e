"""Hyperparameter tuning of a recipe, in the spirit of a SageMaker tuning job, with Optuna.

A tuning job runs ``max_jobs`` trainings (trials) of one recipe, ``parallel_jobs`` at a
time, each with hyperparameters drawn from the recipe's declared ranges, and keeps the
one with the best *validation* metric (the test split stays unseen until the end).

* ``strategy="random"``: independent draws. Each draw depends only on ``(seed, trial
  number, parameter)``, so a random job is reproducible even with parallel jobs.
* ``strategy="bayesian"``: Optuna's TPE sampler (random for the first trials, then
  proposals from a model of the results so far). Seeded; with ``parallel_jobs > 1`` the
  proposals also depend on which trials finish first, as in SageMaker.
* Early stopping of poor trials (SageMaker's ``EarlyStoppingType="Auto"``): XGBoost trials
  report the validation metric after every boosting round and Optuna's ``MedianPruner``
  stops a trial doing worse than the median of earlier trials at the same round.
* Parallel jobs are Optuna threads (``n_jobs``); each trial's XGBoost uses one thread, so
  ``parallel_jobs=K`` keeps K cores busy.

The best trial's parameters are trained again (same seed and splits, all cores) and saved
like ``portable train`` does, with ``trials.csv``, ``trials.json`` and ``tuning.json``.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import InputError, RuntimeUnavailableError
from .recipes import _common, get
from .recipes._common import Range, TrainResult

STRATEGIES = ("random", "bayesian")
PRUNERS = ("median", "none")


@dataclasses.dataclass
class TuneResult:
    """What :func:`tune` returns.

    ``trials`` holds one dict per trial, in trial order: ``number``, ``state``
    (``COMPLETE`` / ``PRUNED``), ``value`` (the objective; a pruned trial's is its last
    reported value), ``duration_s``, ``rounds`` (boosting rounds used or reached) and
    ``params``. ``best`` is the best complete trial (None if every trial was pruned) and
    ``best_result`` its retrained model (a :class:`portable.recipes.TrainResult`).
    """

    recipe: str
    objective: str
    direction: str
    strategy: str
    seed: int
    ranges: list[Range]
    fixed: dict
    trials: list[dict]
    best: dict | None
    best_result: TrainResult | None
    pruning: str
    out_dir: Path | None = None
    paths: dict = dataclasses.field(default_factory=dict)
    study: Any = dataclasses.field(default=None, repr=False)


def tune(recipe: str, *, max_jobs: int = 10, parallel_jobs: int = 1,
         strategy: str = "bayesian", objective: str | None = None, seed: int = 0,
         pruner="median", out_dir=None, params: dict | None = None,
         enqueue: list[dict] | None = None,
         progress: Callable[[dict, int, int], None] | None = None) -> TuneResult:
    """Search a recipe's hyperparameter ranges for the best validation metric.

    Parameters
    ----------
    recipe : str
        A name in ``portable.recipes.RECIPES``.
    max_jobs, parallel_jobs : int
        Trials in all, and trials running at once (``1 <= parallel_jobs <= max_jobs``).
    strategy : {"bayesian", "random"}
    objective : str, optional
        ``"validation:<metric>"`` (or just the metric); default the recipe's
        (``validation:rmse`` for house-prices). Minimised or maximised as the metric
        requires (rmse, mae, logloss down; r2, accuracy, f1 up).
    seed : int
        Seeds the data, the split, every trial's model and the sampler.
    pruner : {"median", "none"} or optuna.pruners.BasePruner
        Early stopping of poor trials; ``"median"`` is ``MedianPruner(n_startup_trials=3,
        n_warmup_steps=max(10, num_round // 5))``: once three trials have completed, a
        trial whose validation metric after a boosting round is worse than the median of
        the completed trials at that round is stopped.
    out_dir : path, optional
        Where to save the retrained best model (``train``'s layout) and the trial table.
    params : dict, optional
        Fixed recipe parameters (e.g. ``{"variant": "logistic", "rows": 2000}``); a fixed
        parameter is not tuned.
    enqueue : list of dict, optional
        Parameter sets to try first (each may give some ranges only).
    progress : callable, optional
        ``progress(trial_row, done, total)`` after each finished trial.

    Returns
    -------
    TuneResult
    """
    rec = get(recipe)
    _check_budget(max_jobs, parallel_jobs)
    if strategy not in STRATEGIES:
        raise InputError(f"Unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    metric, direction = parse_objective(rec, objective)
    optuna = _optuna()
    fixed = _common.resolve_params(rec, params or {})
    chosen_pruner = _pruner(pruner, warmup=max(10, int(fixed.get("num_round", 0)) // 5))
    given = set(params or {})
    ranges = [r for r in rec.ranges(fixed["variant"]) if r.name not in given]
    names = {r.name for r in ranges}
    for p in enqueue or ():
        unknown = sorted(set(p) - names)
        if unknown:
            raise InputError(f"enqueue: {', '.join(map(repr, unknown))} not tuned here; "
                             f"tuned parameters: {', '.join(sorted(names))}.")
    splits = rec.load(fixed, seed)  # once: every trial sees the same split
    pruning = _pruning_status(chosen_pruner, rec, fixed, metric)
    prunable = pruning == "on"

    def objective_fn(trial):
        trial_params = {**fixed, **{r.name: r.suggest(trial) for r in ranges}}

        def on_round(rnd: int, metrics: dict) -> None:
            trial.report(metrics[metric], rnd)
            if trial.should_prune():
                trial.set_user_attr("rounds", rnd)
                raise optuna.TrialPruned(f"pruned after round {rnd}")

        model = rec.fit(splits, trial_params, seed=seed, n_jobs=1,
                        on_round=on_round if prunable else None)
        trial.set_user_attr("rounds", _rounds(model))
        scores = _common.evaluate_splits(rec, model, splits, parts=("validation",))
        return scores["validation"][metric]

    done = []

    def after_trial(study, frozen) -> None:
        done.append(frozen.number)
        if progress is not None:
            progress(_row(frozen), len(done), max_jobs)

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.WARNING)  # our table replaces its per-trial log
    try:
        study = optuna.create_study(direction=direction, pruner=chosen_pruner,
                                    sampler=_sampler(strategy, seed, max_jobs, parallel_jobs))
        for p in enqueue or ():
            study.enqueue_trial(dict(p))
        study.optimize(objective_fn, n_trials=max_jobs, n_jobs=parallel_jobs,
                       callbacks=[after_trial])
    finally:
        optuna.logging.set_verbosity(level)

    trials = [_row(t) for t in sorted(study.trials, key=lambda t: t.number)]
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    best = None
    if complete:
        best = next(t for t in trials if t["number"] == study.best_trial.number)
    result = TuneResult(recipe=rec.name, objective=f"validation:{metric}", direction=direction,
                        strategy=strategy, seed=seed, ranges=list(ranges), fixed=fixed,
                        trials=trials, best=best, best_result=None, pruning=pruning,
                        study=study)
    if best is not None:
        result.best_result = _common.run(rec, out_dir=out_dir, seed=seed,
                                         params={**(params or {}), **best["params"]},
                                         splits=splits)
    if out_dir is not None:
        result.out_dir = Path(out_dir)
        result.out_dir.mkdir(parents=True, exist_ok=True)
        result.paths = {**(result.best_result.paths if result.best_result else {}),
                        **_save_tables(result)}
    return result


# ----------------------------------------------------------------------------- checks
def _check_budget(max_jobs, parallel_jobs) -> None:
    for name, v in (("max_jobs", max_jobs), ("parallel_jobs", parallel_jobs)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"{name} must be an integer >= 1; got {v!r}.")
    if parallel_jobs > max_jobs:
        raise InputError(f"parallel_jobs ({parallel_jobs}) cannot exceed max_jobs ({max_jobs}): "
                         f"there would be idle jobs.")


def parse_objective(rec, objective: str | None) -> tuple[str, str]:
    """``(metric, "minimize" | "maximize")`` for ``objective`` (default: the recipe's)."""
    text = objective or rec.default_objective
    split, _, metric = text.rpartition(":")
    known = ", ".join(f"validation:{m}" for m in rec.objectives)
    if split not in ("", "validation"):
        raise InputError(f"Objective {text!r}: tuning reads the validation split only (the "
                         f"test split must stay unseen). Objectives of {rec.name}: {known}.")
    if metric not in rec.objectives:
        raise InputError(f"Unknown objective {text!r} for recipe {rec.name!r}. Known: {known}.")
    return metric, rec.objectives[metric]


# Metrics an XGBoost recipe measures after every boosting round (see _common.round_metrics).
_ROUND_METRICS = {"regression": ("rmse", "mae", "r2"), "binary": ("accuracy", "logloss"),
                  "multiclass": ("accuracy", "logloss")}


def _pruning_status(chosen_pruner, rec, fixed: dict, metric: str) -> str:
    """``"on"``, or ``"off"`` with the reason (recorded in tuning.json)."""
    from optuna.pruners import NopPruner

    if isinstance(chosen_pruner, NopPruner):
        return "off"
    if "num_round" not in fixed:
        return f"off: the {fixed['variant']} variant trains in one step (nothing to stop early)"
    if metric not in _ROUND_METRICS[rec.task]:
        return f"off: {metric} is not measured per boosting round"
    return "on"


def _rounds(model) -> int | None:
    from .recipes._xgboost import rounds_used

    est = model.steps[-1][1] if hasattr(model, "steps") else model
    return rounds_used(est) if hasattr(est, "get_booster") else None


def _optuna():
    try:
        import optuna
    except ImportError:
        raise RuntimeUnavailableError(
            "portable tune needs Optuna: pip install optuna") from None
    return optuna


def _sampler(strategy: str, seed: int, max_jobs: int, parallel_jobs: int):
    from optuna.samplers import RandomSampler, TPESampler

    if strategy == "random":
        class PerTrialRandomSampler(RandomSampler):
            """Random draws from ``(seed, trial number, parameter name)`` alone."""

            def reseed_rng(self) -> None:
                # Optuna reseeds the sampler in every worker thread; these draws keep no
                # state between trials, so the seed must survive that.
                pass

            def sample_independent(self, study, trial, param_name, param_distribution):
                key = [seed, trial.number, zlib.crc32(param_name.encode())]
                s = int(np.random.SeedSequence(key).generate_state(1)[0])
                return RandomSampler(seed=s).sample_independent(study, trial, param_name,
                                                                param_distribution)

        return PerTrialRandomSampler(seed=seed)

    class SeededTPESampler(TPESampler):
        def reseed_rng(self) -> None:  # keep the given seed under parallel jobs
            pass

    # Explore at random for about a third of the budget (at least one round of parallel
    # jobs, at most TPE's default of 10), then let the model propose.
    startup = max(parallel_jobs, min(10, max_jobs // 3))
    return SeededTPESampler(seed=seed, n_startup_trials=startup)


def _pruner(pruner, *, warmup: int):
    from optuna.pruners import BasePruner, MedianPruner, NopPruner

    if isinstance(pruner, BasePruner):
        return pruner
    if pruner == "median":
        # A slow learning rate looks bad in the first rounds whatever its final score: no
        # trial is judged before a fifth of its rounds (at least 10) have run.
        return MedianPruner(n_startup_trials=3, n_warmup_steps=warmup)
    if pruner in ("none", None):
        return NopPruner()
    raise InputError(f"Unknown pruner {pruner!r}; choose one of {', '.join(PRUNERS)} "
                     f"(or pass an optuna.pruners.BasePruner).")


def _row(t) -> dict:
    duration = t.duration.total_seconds() if t.duration is not None else None
    value = t.value if t.values else None
    return {"number": t.number, "state": t.state.name,
            "value": None if value is None else float(value),
            "duration_s": None if duration is None else round(duration, 3),
            "rounds": t.user_attrs.get("rounds", t.last_step), "params": dict(t.params)}


# ----------------------------------------------------------------------------- files
def _save_tables(result: TuneResult) -> dict[str, Path]:
    out = result.out_dir
    names = [r.name for r in result.ranges]
    csv_path = out / "trials.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["number", "state", "value", "duration_s", "rounds", *names])
        for t in result.trials:
            cells = [t["value"], t["duration_s"], t["rounds"], *[t["params"].get(n) for n in names]]
            w.writerow([t["number"], t["state"],
                        *["" if v is None else _common._cell(v) for v in cells]])
    json_path = _common.write_json(out / "trials.json", result.trials)
    best_metrics = result.best_result.metrics if result.best_result else None
    job = _common.write_json(out / "tuning.json", {
        "recipe": result.recipe, "objective": result.objective, "direction": result.direction,
        "strategy": result.strategy, "seed": result.seed, "pruning": result.pruning,
        "max_jobs": len(result.trials), "fixed": result.fixed,
        "ranges": [r.to_dict() for r in result.ranges], "best": result.best,
        "best_retrained_metrics": best_metrics,
        "states": {s: sum(t["state"] == s for t in result.trials)
                   for s in sorted({t["state"] for t in result.trials})},
        "versions": _common.versions()})
    return {"trials_csv": csv_path, "trials_json": json_path, "tuning": job}


def trials_table(result: TuneResult):
    """A ``rich.table.Table`` of the trials, best first marked with ``*``."""
    from rich.table import Table

    names = [r.name for r in result.ranges]
    arrow = "lower" if result.direction == "minimize" else "higher"
    table = Table(title=f"{result.recipe}: {len(result.trials)} trials, {result.strategy} "
                        f"search, {result.objective} ({arrow} is better)")
    for col in ("#", "state", result.objective, "rounds", "seconds", *names):
        table.add_column(col, justify="right" if col not in ("state",) else "left")
    best = result.best["number"] if result.best else None
    for t in result.trials:
        table.add_row(f"{'*' if t['number'] == best else ''}{t['number']}", t["state"],
                      _fmt(t["value"]), _fmt(t["rounds"]), _fmt(t["duration_s"]),
                      *[_fmt(t["params"].get(n)) for n in names],
                      style="bold" if t["number"] == best else None)
    return table


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)

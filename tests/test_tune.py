"""``portable tune``: trial budget, parallel jobs, pruning, objective direction, best model.

Budgets are small (iris trials take ~0.05 s, house-prices on 1500 rows ~0.3 s); pruning is
tested in scenarios whose outcome does not depend on thread timing.
"""

from __future__ import annotations

import csv
import json

import pytest

pytest.importorskip("xgboost")
optuna = pytest.importorskip("optuna")
from click.testing import CliRunner  # noqa: E402

from portable.commands.recipes import tune as tune_cmd  # noqa: E402
from portable.errors import InputError, UnknownNameError  # noqa: E402
from portable.recipes import train  # noqa: E402
from portable.tune import tune  # noqa: E402

SLOW_START = {"eta": 0.01}  # after 10 rounds its log-loss is still near log(3)
GOOD = {"eta": 0.3, "max_depth": 3, "min_child_weight": 1.0, "subsample": 0.9,
        "colsample_bytree": 0.9, "lambda": 1.0, "grow_policy": "depthwise"}


def _states(res):
    return [t["state"] for t in res.trials]


@pytest.fixture(scope="module")
def threshold_job(tmp_path_factory):
    """6 random trials, 2 at a time, with a pruner that depends on each trial alone."""
    def run(out_dir=None):
        return tune("iris-multiclass", max_jobs=6, parallel_jobs=2, strategy="random", seed=0,
                    pruner=optuna.pruners.ThresholdPruner(upper=0.9, n_warmup_steps=10),
                    enqueue=[SLOW_START, GOOD], out_dir=out_dir)
    return run(tmp_path_factory.mktemp("tune")), run()


def test_six_trials_two_at_a_time_with_a_pruned_one(threshold_job):
    res, _ = threshold_job
    assert [t["number"] for t in res.trials] == list(range(6))
    assert "PRUNED" in _states(res) and "COMPLETE" in _states(res)
    slow = res.trials[0]
    assert slow["params"]["eta"] == 0.01 and slow["state"] == "PRUNED" and slow["rounds"] == 10
    assert res.trials[1]["params"] == GOOD and res.trials[1]["state"] == "COMPLETE"
    assert res.study.pruner.__class__.__name__ == "ThresholdPruner"


def test_random_search_is_reproducible_under_parallel_jobs(threshold_job):
    a, b = threshold_job
    strip = [{k: v for k, v in t.items() if k != "duration_s"} for t in a.trials]
    assert strip == [{k: v for k, v in t.items() if k != "duration_s"} for t in b.trials]


def test_best_trial_is_the_best_complete_one_and_is_what_was_saved(threshold_job):
    res, _ = threshold_job
    assert res.direction == "minimize" and res.objective == "validation:logloss"
    complete = [t["value"] for t in res.trials if t["state"] == "COMPLETE"]
    assert res.best["value"] == min(complete)
    # Retraining the best parameters gives the model the trial measured.
    assert res.best_result.metrics["validation"]["logloss"] == pytest.approx(res.best["value"],
                                                                             rel=1e-12)
    out = res.out_dir
    assert {"model.json", "train.csv", "validation.csv", "test.csv", "metrics.json", "recipe.json",
            "trials.csv", "trials.json", "tuning.json"} <= {p.name for p in out.iterdir()}
    with open(out / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["state"] for r in rows] == _states(res)
    assert float(rows[res.best["number"]]["value"]) == res.best["value"]
    job = json.loads((out / "tuning.json").read_text())
    assert job["best"]["number"] == res.best["number"] and job["pruning"] == "on"
    assert json.loads((out / "trials.json").read_text()) == res.trials
    again = json.loads((out / "recipe.json").read_text())["params"]
    assert {k: again[k] for k in res.best["params"]} == res.best["params"]


def test_median_pruner_stops_a_poor_trial_after_the_startup_trials():
    # Five identical good trials never fall below their own median; the sixth starts only
    # after at least four have finished (two jobs at a time), so the median rule has its
    # three complete trials and stops it after the warm-up rounds, whatever the timing.
    res = tune("iris-multiclass", max_jobs=6, parallel_jobs=2, strategy="random", seed=0,
               enqueue=[GOOD] * 5 + [{**GOOD, "eta": 0.01}])
    assert _states(res) == ["COMPLETE"] * 5 + ["PRUNED"]
    assert res.trials[5]["rounds"] == 20  # iris: 100 rounds, warm-up a fifth of them


def test_maximised_objective_keeps_the_highest_value():
    res = tune("iris-multiclass", max_jobs=6, parallel_jobs=2, strategy="bayesian", seed=1,
               objective="validation:accuracy")
    assert res.direction == "maximize" and len(res.trials) == 6
    complete = [t["value"] for t in res.trials if t["state"] == "COMPLETE"]
    assert res.best["value"] == max(complete)


def test_house_prices_minimises_rmse_with_fixed_parameters():
    res = tune("house-prices", max_jobs=4, parallel_jobs=2, strategy="random", seed=0,
               pruner="none", params={"rows": 1500, "max_depth": 3})
    assert res.objective == "validation:rmse" and res.pruning == "off"
    assert all("max_depth" not in t["params"] for t in res.trials)
    assert _states(res) == ["COMPLETE"] * 4
    assert res.best["value"] == min(t["value"] for t in res.trials)
    assert res.best_result.params["max_depth"] == 3 and res.best_result.params["rows"] == 1500
    assert res.best_result.metrics["test"]["r2"] > 0.8


def test_logistic_variant_has_nothing_to_prune():
    res = tune("sentiment", max_jobs=2, parallel_jobs=1, strategy="random", seed=0,
               params={"variant": "logistic", "rows": 600})
    assert {r.name for r in res.ranges} == {"C", "vectorizer", "min_df"}
    assert res.pruning.startswith("off") and _states(res) == ["COMPLETE"] * 2


def test_trained_best_matches_a_plain_train_with_its_parameters(threshold_job):
    res, _ = threshold_job
    plain = train("iris-multiclass", seed=0, **res.best["params"])
    assert plain.metrics == res.best_result.metrics


@pytest.mark.parametrize("kw, error, words", [
    ({"max_jobs": 0}, InputError, "max_jobs must be an integer >= 1"),
    ({"max_jobs": 2, "parallel_jobs": 3}, InputError, "cannot exceed max_jobs"),
    ({"parallel_jobs": 0}, InputError, "parallel_jobs must be an integer >= 1"),
    ({"strategy": "grid"}, InputError, "Unknown strategy 'grid'"),
    ({"objective": "validation:rmse"}, InputError, "Known: validation:accuracy"),
    ({"objective": "test:logloss"}, InputError, "validation split only"),
    ({"pruner": "hyperband"}, InputError, "Unknown pruner"),
    ({"enqueue": [{"depth": 3}]}, InputError, "'depth' not tuned here"),
])
def test_bad_inputs_are_clear_errors(kw, error, words):
    with pytest.raises(error) as e:
        tune("iris-multiclass", **kw)
    assert words in str(e.value)


def test_unknown_recipe_lists_the_recipes():
    with pytest.raises(UnknownNameError) as e:
        tune("boston-housing", max_jobs=2)
    assert "house-prices" in str(e.value) and "iris-multiclass" in str(e.value)


def test_cli_tune_prints_the_trial_table_and_saves(tmp_path):
    r = CliRunner().invoke(tune_cmd, ["iris-multiclass", "--max-jobs", "4", "--parallel-jobs",
                                      "2", "--strategy", "random", "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "validation:logloss" in r.output and "best trial" in r.output
    assert r.output.count("trial ") >= 4  # one progress line per trial
    assert (tmp_path / "trials.csv").exists() and (tmp_path / "model.json").exists()


def test_cli_tune_json_and_errors():
    r = CliRunner().invoke(tune_cmd, ["iris-multiclass", "--max-jobs", "3", "--strategy",
                                      "random", "--objective", "accuracy", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["direction"] == "maximize" and len(out["trials"]) == 3
    r = CliRunner().invoke(tune_cmd, ["iris-multiclass", "--max-jobs", "2", "--parallel-jobs", "3"])
    assert r.exit_code == 2 and "cannot exceed max_jobs" in r.output


def test_bayesian_search_with_one_job_at_a_time_is_reproducible():
    runs = [tune("iris-multiclass", max_jobs=8, parallel_jobs=1, strategy="bayesian", seed=3)
            for _ in range(2)]
    a, b = ([(t["params"], t["state"], t["value"]) for t in r.trials] for r in runs)
    assert a == b and len(a) == 8

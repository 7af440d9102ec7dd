"""asi-evolve's stand-in for `shinka.core.run_shinka_eval`, used when ShinkaEvolve is not
installed. Written from the function's documented contract, not from its code:

run_shinka_eval(program_path, results_dir, experiment_fn_name, num_runs,
                get_experiment_kwargs=None, aggregate_metrics_fn=None, validate_fn=None,
                plotting_fn=None, default_metrics_on_error=None, early_stop_method=None,
                early_stop_threshold=None, early_stop_score_fn=None, early_stop_kwargs=None,
                run_workers=1, max_workers_cap=None, verbose=None)
    -> (metrics, correct, first_error)

It imports the program, calls experiment_fn(**kwargs) num_runs times (kwargs from
get_experiment_kwargs(i), else {"seed": i + 1}), validates each result, aggregates the metrics
(else records the run count), adds execution_time_mean/std and, with a validator,
num_valid_runs/num_invalid_runs/all_validation_errors; a NaN or infinite combined_score makes
the evaluation incorrect; an exception gives the default error metrics. `extra_data` is
pickled to extra.pkl. It saves correct.json ({"correct", "error"}) and metrics.json in
results_dir. Runs are sequential (run_workers only changes speed upstream); early stopping and
plots are not provided and say so.
"""

import importlib.util
import json
import math
import os
import pickle
import statistics
import time

DEFAULT_METRICS_ON_ERROR = {
    "combined_score": 0.0,
    "execution_time_mean": 0.0,
    "execution_time_std": 0.0,
    "num_successful_runs": 0,
    "num_valid_runs": 0,
    "num_invalid_runs": 0,
    "all_validation_errors": [],
}


def load_program(program_path):
    spec = importlib.util.spec_from_file_location("program", program_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"Could not load spec for module at {program_path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def save_json_results(results_dir, metrics, correct, error=None, verbose=True):
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "correct.json"), "w") as f:
        json.dump({"correct": correct, "error": error}, f, indent=4)
    with open(os.path.join(results_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=4)
    if verbose:
        print(f"Results saved to {results_dir}")


def run_shinka_eval(
    program_path,
    results_dir,
    experiment_fn_name,
    num_runs,
    get_experiment_kwargs=None,
    aggregate_metrics_fn=None,
    validate_fn=None,
    plotting_fn=None,
    default_metrics_on_error=None,
    early_stop_method=None,
    early_stop_threshold=None,
    early_stop_score_fn=None,
    early_stop_kwargs=None,
    run_workers=1,
    max_workers_cap=None,
    verbose=None,
):
    if early_stop_method is not None:
        raise NotImplementedError("early stopping needs ShinkaEvolve itself; asi-evolve's stand-in has none")
    if run_workers < 1:
        raise ValueError("run_workers must be >= 1")
    if verbose is None:
        verbose = os.environ.get("SHINKA_EVAL_VERBOSE", "1") != "0"
    defaults = dict(default_metrics_on_error or DEFAULT_METRICS_ON_ERROR)
    correct, first_error = True, None
    results, times, errors = [], [], []
    valid_runs = invalid_runs = 0
    try:
        module = load_program(program_path)
        if not hasattr(module, experiment_fn_name):
            raise AttributeError(f"Experiment function '{experiment_fn_name}' not found in {program_path}")
        experiment = getattr(module, experiment_fn_name)
        for i in range(num_runs):
            if verbose:
                print(f"Running program evaluation {i + 1}/{num_runs}")
            kwargs = get_experiment_kwargs(i) if get_experiment_kwargs else {"seed": i + 1}
            started = time.perf_counter()
            result = experiment(**kwargs)
            times.append(time.perf_counter() - started)
            results.append(result)
            if validate_fn:
                ok, message = validate_fn(result)
                if ok:
                    valid_runs += 1
                else:
                    invalid_runs += 1
                    correct = False
                    if message:
                        first_error = first_error or f"Validation failed: {message}"
                        if message not in errors:
                            errors.append(message)
        if aggregate_metrics_fn:
            metrics = aggregate_metrics_fn(results)
        else:
            metrics = {"num_successful_runs": len(results)}
        metrics["execution_time_mean"] = float(statistics.fmean(times)) if times else 0.0
        metrics["execution_time_std"] = float(statistics.pstdev(times)) if times else 0.0
        if validate_fn:
            metrics["num_valid_runs"] = valid_runs
            metrics["num_invalid_runs"] = invalid_runs
            metrics["all_validation_errors"] = errors
        score = metrics.get("combined_score")
        if isinstance(score, (int, float)) and not math.isfinite(score):
            correct = False
            first_error = first_error or f"combined_score is {score}"
    except Exception as e:  # noqa: BLE001 - the contract turns any failure into error metrics
        print(f"Evaluation error: {e}")
        metrics = {k: defaults.get(k, v) for k, v in DEFAULT_METRICS_ON_ERROR.items()}
        if validate_fn:
            metrics["num_invalid_runs"] = len(results) or num_runs
            metrics["all_validation_errors"] = [str(e)]
        first_error, correct = str(e), False
    if "extra_data" in metrics:
        os.makedirs(results_dir, exist_ok=True)
        with open(os.path.join(results_dir, "extra.pkl"), "wb") as f:
            pickle.dump(metrics.pop("extra_data"), f)
        if plotting_fn is not None:
            print("plots are not drawn by asi-evolve's run_shinka_eval stand-in")
    save_json_results(results_dir, metrics, correct, first_error, verbose=verbose)
    return metrics, correct, first_error

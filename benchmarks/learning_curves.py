r"""Learning curves of invariant (lmax = 0) and equivariant (lmax = 1, 2) nets on Stillinger–Weber silicon.

The design follows NequIP's learning curves (Batzner et al., Nat. Commun. 13, 2453 (2022)): the
same network with l = 0 features only or with l ≥ 1 features, trained on energies and forces for
training sets of growing size N, each until a validation criterion stops it, judged on held-out data.

* Data: 8-atom periodic cells of diamond silicon, randomly strained (±2 %) and with every atom
  displaced by 0.1 Å (Gaussian, per coordinate), labelled by the Stillinger–Weber potential
  (``symml.datasets.silicon``), whose three-body term ``(cos θ + 1/3)²`` depends on bond angles.
  ``silicon_learning_curve(seed, N, pool=500, valid=25, test=100)``: the training sets of one seed are nested
  (size N is the first N cells of the seed's pool); validation and test cells are the same for
  every seed and N, and never among the training cells.
* Models: ``symml.train.potential_net(lmax, n̄)``, an ``EquivariantNet`` with two interactions and
  the output convolution, radius ``R_MAX`` = 4.5 Å (first and second neighbour shells: bond
  triangles are in the graph, so the lmax = 0 net is a fair message-passing baseline), hidden irreps
  ``MATCHED_HIDDEN`` (5,296 to 5,616 weights: within 6 %), n̄ from the training set.
* Training: ``symml.train.fit_potential`` with ``LEARNING_CURVE_FIT``: Adam (lr 5·10⁻³, batches of 8),
  loss on energies per atom and forces; epochs of at least 128 structures; the learning rate halves
  after 3 epochs without a better validation loss; a run stops after 8 such epochs or when the
  learning rate would fall below lr/64, and its best weights are restored. Nothing is counted in
  steps: a larger N gets proportionally more steps. ``max_epochs`` = 400 is a safety net; a run that
  reaches it is written with ``converged = 0``.
* Sizes N = 5, 12, 30, 75, 200, 500 (two decades), seeds 0…4 (the seed draws the training cells and
  the initial weights).

Each finished run is appended to ``benchmarks/results/learning_curves.csv``: ``lmax, seed, n_train,
params, force_mae`` (meV/Å per component, test set), ``energy_mae`` (meV/atom, test set), ``epochs,
converged, steps, train_loss, valid_loss`` (the restored model's loss on its training and validation
sets), ``lr`` (the last epoch's learning rate), ``wall_s`` (seconds, on whatever machine and load ran
it: not a benchmark of speed). A restarted run skips what is already there, so the script can be
killed and resumed at any time, in another session or on another machine; several processes may
share the work (a lock file next to the CSV marks a run in progress; a stale lock from a killed
process is removed with ``--unlock``). Runs are ordered so that a complete smaller design lands first:
seeds 0–1 at N ≤ 200, then N = 500 for seeds 0–1, then seeds 2–4 in the same order.

    nice -n 10 python benchmarks/learning_curves.py            # from the repository root; twice, to use two cores
    python benchmarks/learning_curves.py --summary             # the table and exponents from the CSV alone

Every run is seeded and independent of the others (one thread: the default), so rerunning any one
reproduces its row up to floating-point summation order.
"""

import argparse
import csv
import os
import statistics
import time
from pathlib import Path

import torch

from symml.datasets import silicon_learning_curve
from symml.train import LEARNING_CURVE_FIT, fit_power_law, learning_curve_point

CSV = Path(__file__).parent / "results" / "learning_curves.csv"
COLUMNS = ["lmax", "seed", "n_train", "params", "force_mae", "energy_mae", "epochs", "converged", "steps", "train_loss", "valid_loss", "lr", "wall_s"]
LMAX, SEEDS, SIZES = [0, 1, 2], [0, 1, 2, 3, 4], [5, 12, 30, 75, 200, 500]  # two decades, evenly spaced in log N
SPLITS = {"pool": max(SIZES), "valid": 25, "test": 100}


def schedule(seeds=SEEDS):
    """The runs ``(lmax, seed, n_train)`` in the order they are done: a complete smaller design first."""
    runs = []
    for block in ([s for s in seeds if s < 2], [s for s in seeds if s >= 2]):
        runs += [(lmax, seed, n) for seed in block for n in SIZES[:-1] for lmax in LMAX]
        runs += [(lmax, seed, SIZES[-1]) for seed in block for lmax in LMAX]  # the largest N last
    return runs


def finished(path: Path) -> dict:
    """The rows already in the CSV, keyed by ``(lmax, seed, n_train)``."""
    if not path.exists():
        return {}
    with path.open() as f:
        return {(int(r["lmax"]), int(r["seed"]), int(r["n_train"])): r for r in csv.DictReader(f)}


def summary(path: Path):
    rows = list(finished(path).values())
    if not rows:
        print(f"no results in {path}")
        return
    for key, unit in [("force_mae", "meV/Å"), ("energy_mae", "meV/atom")]:
        print(f"{'lmax':>4} {'params':>7} " + " ".join(f"{'N=' + str(n):>9}" for n in SIZES) + f"   {key}, {unit}: mean over seeds (number of seeds)")
        for lmax in sorted({int(r["lmax"]) for r in rows}):
            mine = [r for r in rows if int(r["lmax"]) == lmax]
            cells = []
            for n in SIZES:
                values = [float(r[key]) for r in mine if int(r["n_train"]) == n]
                cells.append(f"{statistics.mean(values):6.1f} ({len(values)})" if values else f"{'-':>9}")
            print(f"{lmax:>4} {mine[0]['params']:>7} " + " ".join(cells))
        print()
    for lmax in sorted({int(r["lmax"]) for r in rows}):
        for key in ("force_mae", "energy_mae"):
            betas = []
            for seed in sorted({int(r["seed"]) for r in rows}):
                curve = sorted((int(r["n_train"]), float(r[key])) for r in rows if int(r["lmax"]) == lmax and int(r["seed"]) == seed)
                if len(curve) >= 3:
                    betas.append(fit_power_law(*zip(*curve))[0])
            if betas:
                spread = f" ± {statistics.stdev(betas):.3f}" if len(betas) > 1 else ""
                print(f"lmax = {lmax}, {key}: β = {statistics.mean(betas):.3f}{spread} (mean ± sd over {len(betas)} seeds, every size each has)")
    print(f"{sum(int(r['converged']) for r in rows)} of {len(rows)} runs stopped by the validation criterion")


def lock_path(path: Path, run) -> Path:
    return path.with_name(f".{path.stem}-{'-'.join(map(str, run))}.lock")


def claim(path: Path, run) -> Path | None:
    """A lock file for ``run`` next to the CSV, created atomically; None if another process holds it."""
    lock = lock_path(path, run)
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return None
    return lock


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--summary", action="store_true", help="print the tables from the CSV and exit")
    parser.add_argument("--unlock", action="store_true", help="remove every lock file (after a killed process) and exit")
    parser.add_argument("--csv", type=Path, default=CSV)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=SEEDS, help="run only these seeds")
    args = parser.parse_args()
    if args.summary:
        summary(args.csv)
        return
    if args.unlock:
        for lock in args.csv.parent.glob(f".{args.csv.stem}-*.lock"):
            lock.unlink()
        return
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float32)  # float32: the nets' equivariance holds to 1e-4, errors are meV
    runs = schedule(args.seeds)
    done = finished(args.csv)
    print(f"{sum(run in done for run in runs)} of {len(runs)} runs already in {args.csv}; fit_potential settings: {LEARNING_CURVE_FIT}", flush=True)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    for run in runs:
        # several processes may share the work: skip what another has finished or is running
        if run in finished(args.csv) or (lock := claim(args.csv, run)) is None:
            continue
        try:
            if run in finished(args.csv):  # finished between the two looks
                continue
            lmax, seed, n = run
            train, valid, test = silicon_learning_curve(seed, n, **SPLITS)
            start = time.perf_counter()
            result = learning_curve_point(lmax, train, valid, test, seed=seed)
            row = {"lmax": lmax, "seed": seed, "n_train": n, "params": result["params"],
                   "force_mae": f"{1000 * result['force_mae']:.3f}", "energy_mae": f"{1000 * result['energy_mae']:.3f}",
                   "epochs": result["epochs"], "converged": int(result["converged"]), "steps": result["steps"],
                   "train_loss": f"{result['train_loss']:.5g}", "valid_loss": f"{result['valid_loss']:.5g}", "lr": f"{result['lr']:.3g}",
                   "wall_s": f"{time.perf_counter() - start:.0f}"}
            new = not args.csv.exists()
            with args.csv.open("a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=COLUMNS)
                if new:
                    writer.writeheader()
                writer.writerow(row)
        finally:
            lock.unlink()
        print(", ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    summary(args.csv)


if __name__ == "__main__":
    main()

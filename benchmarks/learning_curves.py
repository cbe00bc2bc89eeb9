r"""Learning curves of invariant (lmax = 0) and equivariant (lmax = 1, 2) nets on Stillinger–Weber silicon.

The design follows NequIP's learning-curve experiment (Batzner et al., Nat. Commun. 13, 2453 (2022),
Fig. 4): the same network with l = 0 only or with l ≥ 1 features, trained on energies and forces
for training sets of growing size N, each to convergence, judged by the force MAE on held-out data.

* Data: 8-atom periodic cells of diamond silicon, randomly strained (±2 %) and with every atom
  displaced by 0.1 Å (Gaussian, per coordinate), labelled by the Stillinger–Weber potential
  (``symml.datasets.silicon``). SW has a three-body term ``(cos θ + 1/3)²``: the energy depends
  on bond angles, which a net of distances alone cannot see.
* Models: ``symml.train.potential_net(lmax)``, one ``EquivariantNet`` (one interaction layer and
  the output convolution) whose hidden irreps stop at ``l = lmax``, with multiplicities
  (``MATCHED_HIDDEN``) that give the three nets the same number of weights to within 5 %.
* Training: ``symml.train.fit_potential`` with ``LEARNING_CURVE_FIT``: Adam, loss on energies per
  atom and forces, learning rate halved on a validation plateau, early stopping on a fixed
  validation set of 16 cells (at most 1,000 steps), best weights restored. Errors on a fixed test
  set of 100 cells (``symml.datasets.silicon_splits``).
* Training sets: N = 4, 10, 23, 54, 128 cells (1.5 decades), nested within a seed; seeds 0, 1, 2 change both
  the draw of the training cells and the initial weights.

Each finished run is appended to ``benchmarks/results/learning_curves.csv`` (``force_mae`` in meV/Å
per force component, ``energy_mae`` in meV/atom); a restarted run skips what is already there. At
the end (or with ``--summary`` alone) it prints, per lmax, the exponent β of ``force MAE ∝ N^−β``
fitted on log-log axes for each seed, and its mean ± sd over the seeds.

Every run is seeded and independent of the others, so the CSV does not depend on how the runs are
spread over processes: several processes may share them (a lock file next to the CSV marks a run
in progress). The shipped CSV was produced on a shared 2-core machine by one-thread processes,
from the repository root:
    nice -n 1 .venv/bin/python benchmarks/learning_curves.py --seeds 0 1
    nice -n 1 .venv/bin/python benchmarks/learning_curves.py --seeds 2    # at the same time
    nice -n 1 .venv/bin/python benchmarks/learning_curves.py              # when the second one ended
(the first was restarted between two runs, resuming from the CSV). The 45 runs took 4,700 s
together (wall time of each run, summed, on the loaded machine); 37 of them reached the 1,000-step
cap. Rerunning any one run reproduces its row digit for digit.
Run ``python benchmarks/learning_curves.py --summary`` to print the table from the CSV only.
"""

import argparse
import csv
import os
import statistics
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from symml.datasets import silicon_splits
from symml.train import LEARNING_CURVE_FIT, fit_power_law, learning_curve_point

CSV = Path(__file__).parent / "results" / "learning_curves.csv"
COLUMNS = ["lmax", "seed", "n_train", "params", "force_mae", "energy_mae"]
LMAX, SEEDS, SIZES = [0, 1, 2], [0, 1, 2], [4, 10, 23, 54, 128]  # 1.5 decades, evenly spaced in log N


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
    print(f"{'lmax':>4} {'params':>7} " + " ".join(f"{'N=' + str(n):>8}" for n in SIZES) + "   force MAE, meV/Å, mean over seeds")
    for lmax in sorted({int(r["lmax"]) for r in rows}):
        mine = [r for r in rows if int(r["lmax"]) == lmax]
        cells = []
        for n in SIZES:
            values = [float(r["force_mae"]) for r in mine if int(r["n_train"]) == n]
            cells.append(f"{statistics.mean(values):8.1f}" if values else f"{'-':>8}")
        print(f"{lmax:>4} {mine[0]['params']:>7} " + " ".join(cells))
    print()
    for lmax in sorted({int(r["lmax"]) for r in rows}):
        betas = []
        for seed in sorted({int(r["seed"]) for r in rows}):
            curve = sorted((int(r["n_train"]), float(r["force_mae"])) for r in rows if int(r["lmax"]) == lmax and int(r["seed"]) == seed)
            if len(curve) == len(SIZES):
                beta, _, r2 = fit_power_law(*zip(*curve))
                betas.append(beta)
                print(f"lmax = {lmax}, seed {seed}: β = {beta:.3f} (R² = {r2:.3f})")
        if len(betas) > 1:
            print(f"lmax = {lmax}: β = {statistics.mean(betas):.3f} ± {statistics.stdev(betas):.3f} (mean ± sd over {len(betas)} seeds)")
        if betas:
            print()


def claim(path: Path, run) -> Path | None:
    """A lock file for ``run`` next to the CSV, created atomically; None if another process holds it."""
    lock = path.with_name(f".{path.stem}-{'-'.join(map(str, run))}.lock")
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return None
    return lock


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--summary", action="store_true", help="print the table from the CSV and exit")
    parser.add_argument("--csv", type=Path, default=CSV)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=SEEDS, help="run only these seeds")
    args = parser.parse_args()
    if args.summary:
        summary(args.csv)
        return
    torch.set_num_threads(args.threads)
    runs = [(lmax, seed, n) for seed in args.seeds for n in SIZES for lmax in LMAX]
    done = finished(args.csv)
    print(f"{sum(run in done for run in runs)} of {len(runs)} runs already in {args.csv}; fit_potential settings: {LEARNING_CURVE_FIT}")
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    splits = {}
    bar = tqdm(total=len(runs), initial=sum(run in done for run in runs))
    for run in runs:
        # several processes may share the work: skip what another has finished or is running
        if run in finished(args.csv) or (lock := claim(args.csv, run)) is None:
            continue
        if run in finished(args.csv):  # finished between the two looks
            lock.unlink()
            continue
        lmax, seed, n = run
        bar.set_description(f"lmax={lmax} seed={seed} N={n}")
        if seed not in splits:
            splits[seed] = silicon_splits(seed, pool=max(SIZES))
        pool, valid, test = splits[seed]
        train = {key: value[:n] for key, value in pool.items()}  # nested: size n is the first n cells of the seed's pool
        start = time.perf_counter()
        try:
            result = learning_curve_point(lmax, train, valid, test, seed=seed)
            row = {"lmax": lmax, "seed": seed, "n_train": n, "params": result["params"],
                   "force_mae": f"{1000 * result['force_mae']:.3f}", "energy_mae": f"{1000 * result['energy_mae']:.3f}"}
            new = not args.csv.exists()
            with args.csv.open("a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=COLUMNS)
                if new:
                    writer.writeheader()
                writer.writerow(row)
        finally:
            lock.unlink()
        bar.update()
        tqdm.write(f"lmax={lmax} seed={seed} N={n:3}: {result['params']} params, {result['steps']} steps, {time.perf_counter() - start:.0f} s, "
                   f"force MAE {row['force_mae']} meV/Å, energy MAE {row['energy_mae']} meV/atom")
    bar.close()
    summary(args.csv)


if __name__ == "__main__":
    main()

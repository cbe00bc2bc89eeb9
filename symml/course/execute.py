"""Execute notebooks top to bottom in a fresh kernel of this Python, and save them with outputs.

    python -m symml.course execute [NB ...]   # default: every lesson, solutions and exercise notebook
"""

import sys
import time
from pathlib import Path

import nbformat

from symml.course import ROOT

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}



def _current_env_kernel_manager():
    """A kernel manager whose ``python3`` is this Python, whatever kernelspecs the user has."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class CurrentEnv(KernelSpecManager):
        def get_kernel_spec(self, kernel_name, *args, **kwargs):
            argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
            return KernelSpec(argv=argv, display_name=KERNELSPEC["display_name"], language="python")

    return KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnv())


def execute(path: Path, timeout: int = 600, save: bool = True) -> float:
    """Run a notebook top to bottom in a fresh kernel (cwd = its folder), save it (unless ``save`` is False); returns seconds.

    The saved notebook has kernelspec ``python3`` (the name CI has), no widget state and no per-cell
    timestamps.
    Raises ``nbclient.exceptions.CellExecutionError`` if a cell fails.
    """
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        km=_current_env_kernel_manager(),
        timeout=timeout,
        store_widget_state=True,  # False trips nbclient on Output widgets; the state is dropped below
        resources={"metadata": {"path": str(path.resolve().parent)}},
    )
    # shut the kernel down and reap it here: given our kernel manager, nbclient would leave it running
    # until this process exits (39 idle kernels for `symml execute`, and their CPU time uncounted)
    client.execute(cleanup_kc=True)
    seconds = time.perf_counter() - start
    if not save:
        return seconds
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:  # nbclient records per-cell timestamps: noise in every diff
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    return seconds


def notebooks(root: Path = ROOT) -> list[Path]:
    """Every course notebook, in the order they are best executed."""
    return [p for d in ("lessons", "solutions", "exercises") for p in sorted((root / d).glob("[0-9][0-9]_*.ipynb"))]




def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="symml execute", description="Execute notebooks in place (default: all of lessons/, solutions/, exercises/).")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    failed = 0
    for path in args.notebooks or notebooks():
        try:
            print(f"executed {path} in {execute(path):.1f} s", flush=True)
        except Exception as e:  # report every broken notebook, not just the first
            failed += 1
            print(f"FAILED {path}: {type(e).__name__}: {str(e)[-2000:]}", flush=True)
    return 1 if failed else 0

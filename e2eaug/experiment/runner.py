"""Run an experiment's cells: resumable, a failed cell reported while the rest go on, in parallel;
one runner per experiment folder at a time."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import socket
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import yaml

from e2eaug.config import ConfigError, read_yaml, to_dict
from e2eaug.run_config import config_from_dict
from e2eaug.rundir import RunDir
from e2eaug.utils import atomic_write_text, lock_exclusively

from .spec import Cell, ExperimentSpec

ERROR_FILE = "error.txt"
LOCK_FILE = "runner.lock"


class ExperimentLocked(OSError):
    """Another runner is working on the same experiment folder."""


def _lock_owner(path: Path) -> Optional[Tuple[str, int]]:
    """``(host, pid)`` written in a lock file, or ``None`` if it is empty or unreadable."""
    try:
        host, pid = path.read_text().split()
        return host, int(pid)
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def runner_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder/runner.lock`` while a runner works on ``folder``;
    a second runner raises :class:`ExperimentLocked`, naming the holder's host and pid.

    The kernel drops the lock when its runner ends, however it ends, so a runner that was killed
    leaves no lock to take over (and no two runners can take over one). The file stays behind,
    naming its last holder; it is never removed, since a runner may be about to lock it.
    """
    path = folder / LOCK_FILE

    def busy() -> ExperimentLocked:
        owner = _lock_owner(path)
        holder = f"host {owner[0]}, pid {owner[1]}" if owner else "starting"
        return ExperimentLocked(
            f"{folder}: another runner ({holder}) is working on this experiment; wait for it or stop it"
        )

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        lock_exclusively(fd, path, busy)
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)


def cell_state(cell: Cell) -> str:
    """``finished``, ``partial`` (resumable from ``last.pt``), ``new``, or ``conflict`` (its
    folder holds a run of another config: never overwritten). A saved config that lacks keys
    added to e2eaug since is read with their defaults, which keep the earlier behaviour.

    A saved config naming other ``plugins`` than the cell's is a conflict without being parsed:
    parsing imports them, and only the experiment file's plug-ins are trusted.
    """
    run = RunDir(cell.path)
    if not run.config_path.is_file():
        return "new"
    try:
        saved = read_yaml(run.config_path)
        same = list(saved.get("plugins") or []) == cell.config.plugins
        same = same and to_dict(config_from_dict(saved)) == to_dict(cell.config)
    except ConfigError:  # a key or value this version does not read
        same = False
    if not same:
        return "conflict"
    if run.results_path.is_file() and run.per_image_path.is_file():
        return "finished"
    return "partial" if run.checkpoint_path("last").is_file() else "new"


def run_cell(cell: Cell) -> Dict[str, Any]:
    """Train and evaluate one cell (resuming a partial one); failures are returned, not raised."""
    from e2eaug import jobs

    start = time.time()
    run = RunDir(cell.path)
    try:
        state = cell_state(cell)
        if state == "conflict":
            raise RuntimeError(f"{cell.path} holds a run of another config; move it away to rerun this cell")
        cell.path.mkdir(parents=True, exist_ok=True)
        (cell.path / ERROR_FILE).unlink(missing_ok=True)
        jobs.train(cell.config, run, resume=state == "partial")
        results = jobs.evaluate(run, "best", trust_plugins=True)  # plugins of the user's experiment file
        return {"label": cell.label, "ok": True, "seconds": time.time() - start, "results": results}
    except Exception as err:  # noqa: BLE001  (one failed cell must not stop the grid)
        if cell.path.is_dir():
            atomic_write_text(cell.path / ERROR_FILE, traceback.format_exc())
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        return {"label": cell.label, "ok": False, "seconds": time.time() - start, "error": message}


def _exit_with_parent(parent: int, poll_s: float = 0.5) -> None:
    """Worker initializer: end this process once its parent runner is gone (killed or
    crashed), so no orphaned worker goes on training queued cells."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _line(done: int, total: int, cell: Cell, outcome: Dict[str, Any], metric: str) -> str:
    where = f"[{done}/{total}] {cell.label}"
    if not outcome["ok"]:
        return f"{where}: FAILED in {outcome['seconds']:.0f} s: {outcome['error']} (see {cell.path / ERROR_FILE})"
    scores = ", ".join(f"{name} {r[metric]:.4f}" for name, r in outcome["results"]["tests"].items())
    return f"{where}: {metric} {scores} (val dice {outcome['results']['best_val']['dice']:.4f}) in {outcome['seconds']:.0f} s"


def run_experiment(spec: ExperimentSpec, jobs: int = 1, echo: Callable[[str], None] = print) -> List[str]:
    """Run every unfinished cell of ``spec`` (``jobs`` processes), then write the reports,
    holding the folder's :func:`runner_lock` throughout.

    Returns the labels of the cells that failed (empty when all finished).
    """
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    spec.folder.mkdir(parents=True, exist_ok=True)
    with runner_lock(spec.folder):
        return _run_locked(spec, jobs, echo)


def _run_locked(spec: ExperimentSpec, jobs: int, echo: Callable[[str], None]) -> List[str]:
    from .report import write_reports

    atomic_write_text(spec.folder / "experiment.yaml", yaml.safe_dump(to_dict(spec), sort_keys=False))
    cells = spec.cells()
    states = {cell.label: cell_state(cell) for cell in cells}
    todo = [cell for cell in cells if states[cell.label] != "finished"]
    echo(f"experiment {spec.folder}: {len(cells)} cells, {len(cells) - len(todo)} finished, "
         f"{len(todo)} to run with {jobs} job(s)")
    failed: List[str] = []
    done = len(cells) - len(todo)

    def report(cell: Cell, outcome: Dict[str, Any]) -> None:
        nonlocal done
        done += 1
        if not outcome["ok"]:
            failed.append(cell.label)
        echo(_line(done, len(cells), cell, outcome, spec.metric))

    if jobs == 1:
        for cell in todo:
            report(cell, run_cell(cell))
    else:
        context = mp.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_exit_with_parent, initargs=(os.getpid(),)) as pool:
            futures = {pool.submit(run_cell, cell): cell for cell in todo}
            for future in as_completed(futures):
                report(futures[future], future.result())
    written = write_reports(spec)
    echo(f"wrote {', '.join(str(p.name) for p in written)} in {spec.folder}")
    return failed

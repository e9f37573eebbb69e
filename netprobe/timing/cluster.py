"""Sweeps on a Ray cluster: one task per configuration, holding its device; this driver writes the rows.

A task builds its model on the worker (a zoo model travels as its spec, a module pickled,
its class importable there) and times it with the engine of a local run (``bench.time_one``, handed
in as a ``Timer``, so that this module needs nothing of bench's). Rows go to the caller's ``on_row``.
On CUDA a task holds one GPU (``num_gpus=1``); on CPU as many CPUs as the threads it times
with (default: every CPU of the largest node), so two timings never share a device. A worker
or node lost mid-task is run again by Ray (``max_retries``), then becomes a ``lost`` row. A target
with the same network and input as an earlier one is not dispatched: its rows copy that one's
(``same_as``), as in a local sweep. Configurations are not interleaved here: each task times one
configuration alone, on resources no other task holds, with ``bench.time_one`` (adaptive, as a
local one); its row's load_avg, cpu_share and stable are read on the worker that timed it (``node``).
Ray is imported only here, and only when a run asks for it.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable

from netprobe.errors import Interrupted, NetprobeError, first_line

ADDRESSES = "local, auto or ray://HOST:PORT"
INSTALL = "pip install -e '.[ray]' (or pip install 'netprobe[ray]')"
PROBE_TIMEOUT_S = 5  # a TCP check of the address first: Ray's own retries take 35 s (client) to 80 s (GCS)
CONNECT_TIMEOUT_S = 20  # joining a cluster that accepts the connection but does not answer by then is refused
POLL_S = 0.5  # the driver wakes this often while tasks run, so that Ctrl-C is handled at once
CANCEL_S = 10  # on Ctrl-C, how long the driver keeps cancelling tasks that have not stopped yet


@dataclass(frozen=True)
class Timer:
    """What the driver needs of the bench engine: a worker's timing, a row for a task that failed, the columns."""

    time_one: Callable[..., dict]  # (target, batch, mode, settings, warmup, min_time) -> row, run on a worker
    failed_row: Callable[..., dict]  # (target, batch, mode, settings, status, error) -> row
    columns: list[str]
    twins: Callable[[tuple], list]  # targets -> per target, the earlier one with the same network, else None
    same_as: Callable[..., dict]  # (twin's row, target, twin) -> the target's row, not timed again


def parse_address(address) -> str:
    """``local`` (start Ray here), ``auto`` (the cluster this machine belongs to) or ``ray://HOST:PORT``."""
    text = str(address).strip()
    if text.lower() in ("local", "auto"):
        text = text.lower()
    elif not re.fullmatch(r"ray://[^\s:/]+:\d{1,5}", text):
        raise NetprobeError(f"--ray '{address}' is not a Ray address; use {ADDRESSES}")
    _import_ray()
    return text


def parse_retries(retries) -> int:
    """How many times a configuration whose worker was lost is run again (default 1)."""
    if retries is None:
        return 1
    if isinstance(retries, bool) or not str(retries).strip().isdigit():
        raise NetprobeError(f"retries '{retries}' is not a whole number of 0 or more; use e.g. 1")
    return int(retries)


def parse_device(device: str) -> str:
    """``cpu``, or ``cuda``: each task then gets one GPU of its own, which it sees as ``cuda:0``."""
    name = str(device).strip().lower()
    if name == "cpu":
        return "cpu"
    if name in ("cuda", "cuda:0"):
        return "cuda:0"
    if re.fullmatch(r"cuda:\d+", name):
        raise NetprobeError(f"device '{device}': on Ray every task gets one GPU of its own; use --device cuda")
    raise NetprobeError(f"unknown device '{device}'; use cpu or cuda")


def _import_ray():
    try:
        import ray
    except ImportError:
        raise NetprobeError(f"--ray needs Ray, which is not installed; {INSTALL}") from None
    return ray


def connect(address: str) -> bool:
    """Ray ready to take tasks; True when this call started it (and should shut it down)."""
    import logging

    ray = _import_ray()
    if ray.is_initialized():  # a notebook or test that set Ray up itself: use it as it is
        return False
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    if address == "local":
        ray.init(include_dashboard=False, **quiet)
        _restore(handlers)
        return True
    _probe(address, _endpoint(address))
    failure: list[BaseException] = []
    joining = threading.Thread(target=_join, args=(ray, address, quiet, failure), daemon=True)
    joining.start()
    joining.join(CONNECT_TIMEOUT_S)
    if joining.is_alive() or failure:
        why = first_line(failure[0]) if failure else f"no answer within {CONNECT_TIMEOUT_S} s"
        raise NetprobeError(f"cannot join the Ray cluster at '{address}': {why}; "
                            "start one with 'ray start --head', or use --ray local")
    _restore(handlers)
    return True


def _restore(handlers: dict) -> None:
    """The caller's signal handlers back: ray.init puts its own on SIGTERM, which aborts the process (SIGABRT)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        return
    for sig, handler in handlers.items():
        if handler is not None and signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)


def _join(ray, address: str, options: dict, failure: list) -> None:
    try:
        ray.init(address=address, **options)
    except Exception as e:  # noqa: BLE001 - handed to the caller, which words it
        failure.append(e)


def _endpoint(address: str) -> str | None:
    """The HOST:PORT that ``address`` reaches: the client port of ``ray://``, else the cluster's own (GCS) port."""
    if address.startswith("ray://"):
        return address[len("ray://"):]
    try:  # where Ray itself would look for 'auto': RAY_ADDRESS, else the cluster started on this machine
        from ray._private.services import canonicalize_bootstrap_address_or_die
    except ImportError:  # moved in another Ray release: the join's own deadline still applies
        return None
    try:
        return canonicalize_bootstrap_address_or_die(address)
    except ConnectionError:
        raise NetprobeError("--ray auto found no Ray cluster on this machine and RAY_ADDRESS is not set; "
                            "start one with 'ray start --head', or use --ray local or ray://HOST:PORT") from None


def _probe(address: str, endpoint: str | None) -> None:
    """Refuse at once an address where nothing listens (Ray's own retries take a minute or more)."""
    if endpoint is None:
        return
    host, port = endpoint.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S).close()
    except (OSError, ValueError) as e:
        raise NetprobeError(f"no Ray cluster answers at '{address}' ({endpoint}: {first_line(e)}); "
                            "check the address, or start one with 'ray start --head'") from None


def task_resources(ray, settings: dict) -> dict:
    """What one task holds: a GPU (and a process of its own), else a CPU per thread; NetprobeError if no node has it."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if settings["device"] != "cpu":
        if not any(r.get("GPU", 0) >= 1 for r in nodes):
            raise NetprobeError("the Ray cluster has no GPU; add GPU workers, or use --device cpu")
        # max_calls=1 (Ray's default for GPU tasks, made explicit): a fresh worker process per task,
        # since CUDA stays on the GPU a process first saw and a reused worker may be handed another
        return {"num_gpus": 1, "num_cpus": settings["threads"] or 1, "max_calls": 1}
    largest = int(max((r.get("CPU", 0) for r in nodes), default=0))
    threads = settings["threads"] or largest
    if not 1 <= threads <= largest:
        raise NetprobeError(f"--threads {threads}: the largest Ray node has {largest} CPUs; use at most that")
    return {"num_cpus": threads}


def time_on_worker(time_one: Callable[..., dict], target, batch: int, mode: str, settings: dict, warmup,
                   min_time: float) -> dict:
    """One configuration's row, timed where Ray placed it, with that machine's host name."""
    return {**time_one(target, batch, mode, settings, warmup, min_time), "node": socket.gethostname()}


def run_on_ray(plan, on_row: Callable[[dict], None] | None, timer: Timer) -> list[dict]:
    """Time a plan (a ``bench.Plan``) on Ray: each row (``timer.columns``) to ``on_row`` as its task finishes,
    all returned in plan order."""
    ray = _import_ray()
    with contextlib.redirect_stdout(sys.stderr):  # Ray prints its notices of dead workers to stdout, where rows go
        started = connect(plan.ray)
        try:
            return _sweep(ray, plan, on_row, timer)
        finally:
            if started:
                ray.shutdown()  # before stdout is back: that stops the thread printing the notices


def _sweep(ray, plan, on_row, timer: Timer) -> list[dict]:
    resources = task_resources(ray, plan.settings)
    settings = {**plan.settings, "threads": plan.settings["threads"] or resources["num_cpus"]}
    task = ray.remote(**resources, max_retries=plan.retries, retry_exceptions=False)(time_on_worker)
    twin_of = dict(zip(map(id, plan.targets), timer.twins(plan.targets)))
    configs = [(target, batch, mode) for target in plan.targets for batch in plan.batches for mode in plan.modes]
    at = {(id(t), b, m): i for i, (t, b, m) in enumerate(configs)}
    # an identical network is not dispatched: its row copies its twin's when that one finishes
    copies = {i: at[(id(twin_of[id(t)]), b, m)] for i, (t, b, m) in enumerate(configs) if twin_of[id(t)] is not None}
    shipped = {id(t): ray.put(t) for t in plan.targets if twin_of[id(t)] is None}  # once, not once per batch size
    index = {task.remote(timer.time_one, shipped[id(t)], b, m, settings, plan.warmup, plan.min_time): i
             for i, (t, b, m) in enumerate(configs) if i not in copies}
    done: dict[int, dict] = {}
    pending = list(index)

    def finish(i: int, row: dict) -> list[dict]:
        """The row of configuration ``i`` and those of its copies, kept in ``done``."""
        rows = [(i, row)] + [(j, timer.same_as(row, configs[j][0], configs[i][0])) for j, of in copies.items()
                             if of == i]
        done.update(rows)
        return [r for _, r in rows]

    try:
        while pending:
            finished, pending = ray.wait(pending, num_returns=1, timeout=POLL_S)
            for ref in finished:
                target, batch, mode = configs[index[ref]]
                for row in finish(index[ref], _result(ray, ref, target, batch, mode, settings, plan.retries, timer)):
                    if on_row:
                        on_row(row)
    except KeyboardInterrupt:
        _cancel(ray, pending)
        raise Interrupted([done[i] for i in sorted(done)]) from None
    except Exception as e:
        if not hasattr(e, "rows"):
            raise
        # on_row failed (the caller's file could not be written): the run stops, and every row
        # finished by now, handed over or not, goes with the error for the caller to show
        finished, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
        for ref in finished:
            target, batch, mode = configs[index[ref]]
            finish(index[ref], _result(ray, ref, target, batch, mode, settings, plan.retries, timer))
        _cancel(ray, pending)
        e.rows = [done[i] for i in sorted(done)]
        raise
    return [done[i] for i in sorted(done)]


def _cancel(ray, refs: list) -> None:
    """Stop these tasks, killing their workers; asked again while any is left, for up to CANCEL_S."""
    deadline = time.monotonic() + CANCEL_S
    try:
        while refs and time.monotonic() < deadline:
            for ref in refs:  # a task being handed to a worker just now can miss one request
                ray.cancel(ref, force=True)
            _, refs = ray.wait(refs, num_returns=len(refs), timeout=POLL_S)
    except KeyboardInterrupt:  # a second Ctrl-C: stop asking, keep the rows
        pass


def _result(ray, ref, target, batch: int, mode: str, settings: dict, retries: int, timer: Timer) -> dict:
    """The task's row; a task that Ray could not finish becomes a row saying why."""
    try:
        row = ray.get(ref)
    except ray.exceptions.OutOfMemoryError as e:  # Ray's memory monitor killed the worker
        row = timer.failed_row(target, batch, mode, settings, "oom", _reason(e))
    except ray.exceptions.RayTaskError as e:  # raised inside the task, outside the timing (unpickling a module)
        cause = e.cause if isinstance(e.cause, BaseException) else e
        error = _reason(cause)
        if "No module named" in error:
            error += "; make the model's module importable on the workers (Ray runtime_env working_dir, docs/scale.md)"
        row = timer.failed_row(target, batch, mode, settings, "error", error)
    except ray.exceptions.RayError as e:  # the worker or its node died, every attempt
        attempts = f"{retries + 1} attempts" if retries else "1 attempt"
        row = timer.failed_row(target, batch, mode, settings, "lost", f"lost after {attempts}: {_reason(e)}")
    return {col: row.get(col) for col in timer.columns}


def _reason(e: BaseException) -> str:
    return f"{type(e).__name__}: {first_line(e, 300)}"

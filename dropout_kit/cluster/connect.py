"""The Dask cluster a grading run uses: a local one sized to the cores, or the scheduler at
`--scheduler ADDRESS` / DASK_SCHEDULER_ADDRESS."""
from __future__ import annotations

import contextlib
import logging
import os
import socket
from urllib.parse import urlsplit

CONNECT_TIMEOUT_SECONDS = 5
WORKERS_TIMEOUT_SECONDS = 60


class SchedulerUnreachable(RuntimeError):
    pass


def scheduler_address(option: str | None) -> str | None:
    return option or os.environ.get("DASK_SCHEDULER_ADDRESS") or None


def probe_scheduler(address: str) -> None:
    """Raises SchedulerUnreachable at once when nothing listens at a tcp:// or tls:// address
    (before the grading run's slow imports; Dask's own connection follows)."""
    parts = urlsplit(address)
    try:
        port = parts.port
    except ValueError:  # not a port: Dask's own connection reports the address
        return
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or not port:
        return
    try:
        socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except OSError as error:
        raise unreachable(address, error) from error


def unreachable(address: str, error: BaseException) -> SchedulerUnreachable:
    return SchedulerUnreachable(f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT_SECONDS} s "
                                f"({type(error).__name__}); nothing was graded")


@contextlib.contextmanager
def cluster_client(scheduler: str | None, workers: int):
    """A dask.distributed Client: on `scheduler` if given, else on a local cluster of
    `workers` single-threaded worker processes (one submission at a time each)."""
    import dask
    from distributed import Client, LocalCluster

    from dropout_kit.engine.sandbox_kernel_manager import SINGLE_THREAD_ENV

    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_SECONDS)
        except (OSError, TimeoutError) as error:
            raise unreachable(scheduler, error) from error
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_SECONDS)
        except TimeoutError as error:
            client.close()
            raise SchedulerUnreachable(f"the Dask scheduler at {scheduler} has no workers "
                                       f"(waited {WORKERS_TIMEOUT_SECONDS} s); nothing was graded") from error
        with client:
            yield client
        return
    # Dask's statistical profiler samples every worker's threads 100 times a second for a
    # dashboard nobody opens here: about 1.4 % of a core per idle worker.
    with dask.config.set({"distributed.worker.profile.enabled": False}), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                         silence_logs=logging.ERROR, env=dict(SINGLE_THREAD_ENV)) as cluster, \
            Client(cluster) as client:
        yield client


def slots(client) -> int:
    """Submissions the cluster can grade at once: one per worker thread."""
    return max(1, sum(client.nthreads().values()))

"""Daemon threads started ahead of time to run jobs later under a deadline, at interpreter exit included.

`shutdown()` flushes the tracer, logger and meter providers side by side and abandons whatever
has not finished by its deadline, so an unreachable collector never holds the app's exit. That
needs threads, and from Python 3.12 on no thread can be started once the interpreter is
finalizing (`RuntimeError: can't create new thread at interpreter shutdown`), which is when the
atexit hook runs. So the threads are started when `configure()` runs and wait, parked on an
event, until `run()` hands them their jobs. Daemon threads keep running during atexit on every
version. Neither `concurrent.futures` (its workers are joined before atexit hooks run) nor the SDK
(its provider shutdowns are sequential and take no overall deadline) offers this.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence


class ParkedThreads:
    """`count` daemon threads waiting for one job each; `run()` gives the jobs and waits until a deadline."""

    def __init__(self, count: int, name: str) -> None:
        self._count = count
        self._name = name
        self._jobs: list[Callable[[], None] | None] = [None] * count
        self._go = threading.Event()
        self._threads: list[threading.Thread] = []
        self._used = False
        self._start()
        os.register_at_fork(after_in_child=_restart_in_child(weakref.ref(self)))

    def _start(self) -> None:
        """(Re)start the parked threads; in a forked child the parent's threads do not exist."""
        if self._used:
            return
        self._go = threading.Event()
        self._threads = [threading.Thread(target=self._wait, args=(i, self._go), name=f"{self._name}-{i}", daemon=True) for i in range(self._count)]
        for t in self._threads:
            t.start()

    def _wait(self, index: int, go: threading.Event) -> None:
        go.wait()
        job = self._jobs[index]
        if job is not None:
            job()

    def run(self, jobs: Sequence[Callable[[], None]], timeout_s: float) -> list[int]:
        """Run up to `count` jobs side by side; return the indexes of those still running at the deadline.

        A job that raises is the caller's to catch (wrap it). Usable once: the threads end with their job.
        """
        if len(jobs) > self._count:
            raise ValueError(f"ParkedThreads.run: {len(jobs)} jobs for {self._count} threads")
        deadline = time.monotonic() + timeout_s
        self._used = True
        self._jobs = [*jobs, *[None] * (self._count - len(jobs))]
        self._go.set()
        for t in self._threads[: len(jobs)]:
            t.join(max(0.0, deadline - time.monotonic()))
        return [i for i, t in enumerate(self._threads[: len(jobs)]) if t.is_alive()]


def _restart_in_child(ref: weakref.ref[ParkedThreads]) -> Callable[[], None]:
    def restart() -> None:
        parked = ref()
        if parked is not None:
            parked._start()

    return restart

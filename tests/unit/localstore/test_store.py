"""The local store under several writer processes, and its bounds."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time

from agent_otel.localstore.exporters import SPAN_COLUMNS
from agent_otel.localstore.store import Store

WRITER = textwrap.dedent(
    """
    import sys, agent_otel
    # a queue larger than the burst: this test is about concurrent writers, not the queue bound
    agent_otel.configure(sys.argv[2], exporter="local", store_path=sys.argv[1], max_queue_size=8192)
    step = agent_otel.step("work")(lambda: None)
    for _ in range(int(sys.argv[3])):
        step()
    agent_otel.shutdown()
    """
)


def test_several_processes_write_one_store_without_loss(tmp_path):
    db = tmp_path / "shared.db"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), f"proc-{i}", "3000"], stderr=subprocess.PIPE, text=True) for i in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    counts = dict(sqlite3.connect(db).execute("SELECT service, COUNT(*) FROM spans GROUP BY service").fetchall())
    assert counts == {f"proc-{i}": 3000 for i in range(4)}


def row(start_ns: int) -> tuple:
    return ("t" * 32, "s" * 16, None, "svc", "x", "step", "x", start_ns, start_ns + 1000, 0.001, 0, None, None, None, None, None, "{}")


def test_retention_and_max_spans_bound_the_store(tmp_path):
    now = time.time_ns()
    store = Store(tmp_path / "s.db", retention_s=3600, max_spans=100)
    store.write("spans", SPAN_COLUMNS, [row(now - 7200 * 10**9)] * 10 + [row(now - i) for i in range(150)])
    store.prune()
    (count,) = sqlite3.connect(tmp_path / "s.db").execute("SELECT COUNT(*) FROM spans").fetchone()
    (oldest,) = sqlite3.connect(tmp_path / "s.db").execute("SELECT MIN(start_ns) FROM spans").fetchone()
    assert count == 100 and oldest > now - 3600 * 10**9
    # what a user reads back: the report source sees exactly the kept spans, newest last
    from agent_otel.analyzer.sources.local import LocalSource

    frame = LocalSource(tmp_path / "s.db").spans(now - 3600 * 10**9, now + 1, None)
    assert len(frame) == 100 and int(frame.start_ns.max()) == now

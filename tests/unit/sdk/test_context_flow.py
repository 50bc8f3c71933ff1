"""After configure(), thread pools and threads stay in the trace, and log formats can name the trace ids."""

from __future__ import annotations

import sqlite3

from test_configure import run  # noqa: E402  (same directory: a fresh process per case)


import pytest


@pytest.mark.parametrize("contrib", [True, False], ids=["contrib-threading", "without-contrib-threading"])
def test_pool_and_thread_work_joins_the_agent_trace_without_wrap_context(tmp_path, contrib):
    store = tmp_path / "s.db"
    block = "" if contrib else "import sys; sys.modules['opentelemetry.instrumentation.threading'] = None"
    proc = run(
        f"""
        {block}
        import threading
        from concurrent.futures import ThreadPoolExecutor
        import agent_otel

        agent_otel.configure("svc", exporter="local", store_path={str(store)!r})

        @agent_otel.tool(name="lookup")
        def lookup(n):
            return n

        @agent_otel.agent(name="bot")
        def bot():
            with ThreadPoolExecutor(4) as pool:
                assert sorted(pool.map(lookup, range(3))) == [0, 1, 2]
                pool.submit(lookup, 9).result()
            t = threading.Thread(target=lookup, args=(5,))
            t.start(); t.join()

        bot()
        agent_otel.shutdown()
        """
    )
    assert proc.returncode == 0, proc.stderr
    rows = sqlite3.connect(store).execute("SELECT name, trace_id, span_id, parent_id FROM spans").fetchall()
    root = [r for r in rows if r[0] == "invoke_agent bot"]
    tools = [r for r in rows if r[0] == "execute_tool lookup"]
    assert len(root) == 1 and len(tools) == 5
    assert {r[1] for r in rows} == {root[0][1]}  # one trace, not one per worker
    assert {r[3] for r in tools} == {root[0][2]}  # each tool call is a child of the agent span


def test_log_formats_can_name_the_standard_otel_fields():
    proc = run(
        """
        import logging, sys
        import agent_otel
        from opentelemetry import trace

        logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                            format="%(otelTraceID)s %(otelSpanID)s %(otelServiceName)s %(message)s")
        agent_otel.configure("svc-logs", exporter="none")
        logging.getLogger("app").info("outside")
        with agent_otel.step("work"):
            ctx = trace.get_current_span().get_span_context()
            logging.getLogger("app").info("inside")
        print("ids", format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "Formatting field not found" not in proc.stderr and "KeyError" not in proc.stderr
    lines = proc.stdout.splitlines()
    trace_id, span_id = next(line for line in lines if line.startswith("ids ")).split()[1:]
    assert f"{trace_id} {span_id} svc-logs inside" in lines
    assert "0 0 svc-logs outside" in lines

"""How soon telemetry leaves the process: shipped delays, the variables that override them, and the
early flush when a run ends or a span ends alone (each case in a fresh process: providers are set once)."""

from __future__ import annotations

import json

import yaml

from test_configure import run
from test_sdk_env import probe

from agent_otel import freshness

EARLY_FLUSH = """
import json, logging, sqlite3, sys, time
import agent_otel
agent_otel.configure("svc", exporter="local", store_path=sys.argv[1] if len(sys.argv) > 1 else {db!r})
log = logging.getLogger("app"); log.setLevel(logging.INFO)

def rows(table):
    try:
        return sqlite3.connect({db!r}).execute(f"select count(*) from {{table}}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0

def wait(table, n, limit=3.0):
    t0 = time.monotonic()
    while rows(table) < n and time.monotonic() - t0 < limit:
        time.sleep(0.01)
    return round(time.monotonic() - t0, 3), rows(table)

out = {{}}
with agent_otel.agent("planner"):
    with agent_otel.tool("search"):
        log.info("searching")
    out["lone_tool"] = wait("spans", 1)  # a call ending alone in a run still open
    out["logs"] = wait("logs", 1)
    for _ in range(50):  # a burst: left to the (here minute-long) batch delay
        with agent_otel.step("tick"):
            pass
    time.sleep(0.5)
    out["burst"] = rows("spans")
out["after_root_end"] = wait("spans", 52)
print("OUT " + json.dumps(out), flush=True)
"""


def early_flush(tmp_path, env):
    db = str(tmp_path / "s.db")
    proc = run(EARLY_FLUSH.format(db=db), env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("OUT "))[4:])


def test_shipped_delays_are_short_and_the_sdk_variables_still_win():
    out, _ = probe({"OTEL_TRACES_EXPORTER": "console"})
    assert out["bsp"] == [[8192, freshness.SPAN_DELAY_MS / 1000]] and out["interval"] == [freshness.METRIC_INTERVAL_MS]
    assert freshness.SPAN_DELAY_MS <= 100 and freshness.LOG_DELAY_MS <= 100 and freshness.METRIC_INTERVAL_MS <= 1000
    out, _ = probe({"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "5000", "OTEL_METRIC_EXPORT_INTERVAL": "10000"})
    assert out["bsp"] == [[8192, 5.0]] and out["interval"] == [10000]


def test_a_lone_call_and_a_finished_run_are_in_the_store_at_once_even_with_a_long_batch_delay(tmp_path):
    # A minute's batch delay: only the early flush can write the spans and the log line this soon.
    out = early_flush(tmp_path, {"OTEL_BSP_SCHEDULE_DELAY": "60000", "OTEL_BLRP_SCHEDULE_DELAY": "60000"})
    took, n = out["lone_tool"]
    assert n == 1 and took < 1.0, out
    took, n = out["logs"]
    assert n == 1 and took < 1.0, out
    assert out["burst"] <= 2, out  # a burst does not flush span by span: batches stay batches
    took, n = out["after_root_end"]
    assert n == 52 and took < 1.0, out  # the run's end (after the burst went quiet) takes the rest


def test_early_flush_can_be_turned_off(tmp_path):
    out = early_flush(tmp_path, {"OTEL_BSP_SCHEDULE_DELAY": "60000", "AGENT_OTEL_EARLY_FLUSH": "false"})
    assert out["lone_tool"][1] == 0 and out["after_root_end"][1] == 0  # waits for the (minute-long) batch, as asked


def test_collector_and_stack_configs_ship_the_short_timeouts():
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    collector = yaml.safe_load((root / "collector-config.yaml").read_text())
    for name, exporter in collector["exporters"].items():
        assert exporter["sending_queue"]["batch"]["flush_timeout"].endswith(":-100ms}"), name
        assert exporter["sending_queue"]["storage"] == "file_storage", name  # still queued on disk first
    assert collector["connectors"]["spanmetrics"]["metrics_flush_interval"].endswith(":-1s}")
    jaeger = (root / "src/agent_otel/stack/data/jaeger.yaml").read_text()
    assert yaml.safe_load(jaeger.replace("${", "{"))["service"]["pipelines"]["traces"]["processors"] == []
    am = yaml.safe_load((root / "src/agent_otel/stack/data/alertmanager.yml").read_text().replace("${webhook}", "x"))
    assert am["route"]["group_wait"] == "1s"


def test_the_stacks_prometheus_evaluates_rules_every_second(tmp_path):
    from agent_otel.stack import processes

    stack = processes.Stack(str(tmp_path), processes.Ports.free())
    processes._commands(stack, None, None)
    prometheus = yaml.safe_load((tmp_path / "config" / "prometheus.yml").read_text())
    assert prometheus["global"]["evaluation_interval"] == "1s"


def test_early_flush_for_runs_and_lone_spans_and_none_for_busy_bursts():
    import threading
    import time

    from opentelemetry.sdk.trace import TracerProvider

    flushed = []
    done = threading.Event()

    def flush(timeout_ms):
        flushed.append(time.monotonic())
        done.set()

    flusher = freshness.EarlyFlusher([flush], min_gap_s=0.3)
    tracer = TracerProvider()
    tracer.add_span_processor(flusher)
    t = tracer.get_tracer("t")
    with t.start_as_current_span("run"):
        with t.start_as_current_span("tool"):
            pass
        assert done.wait(2) and len(flushed) == 1  # a span ending alone: at once
        done.clear()
        for _ in range(20):  # a burst right after: left to the batch delay
            with t.start_as_current_span("step"):
                pass
        time.sleep(0.1)
        assert len(flushed) == 1
    assert done.wait(2) and len(flushed) == 2  # the run's end: at once, though spans just ended
    done.clear()
    for _ in range(20):  # a burst of runs: left to the batch delay
        with t.start_as_current_span("run"):
            pass
    time.sleep(0.4)
    assert len(flushed) == 2
    with t.start_as_current_span("run"):  # quiet again
        pass
    assert done.wait(2) and len(flushed) == 3
    tracer.shutdown()


def test_an_early_flush_exports_one_batch_and_never_chases_a_burst():
    # A burst arriving while the flush exports is left to the batch processor (full batches), where
    # force_flush would keep exporting small batches until the queue is empty (bench_load.py's drops).
    import time

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    batches = []

    class Burst(SpanExporter):
        def export(self, spans):
            batches.append(len(spans))
            if len(batches) == 1:  # more spans end while the first export runs
                for _ in range(30):
                    with t.start_as_current_span("late"):
                        pass
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    processor = BatchSpanProcessor(Burst(), schedule_delay_millis=60_000, max_export_batch_size=64)
    provider.add_span_processor(processor)
    t = provider.get_tracer("t")
    flush = freshness.export_now(processor)
    for _ in range(5):
        with t.start_as_current_span("s"):
            pass
    flush(1000)
    assert batches == [5]  # what was queued went at once; the 30 that came during the export wait
    assert len(processor._batch_processor._queue) == 30
    for _ in range(40):  # 70 queued: a full batch woke the processor's own thread, the flush leaves it
        with t.start_as_current_span("s"):
            pass
    flush(1000)
    deadline = time.monotonic() + 5
    while sum(batches) < 69 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert batches[1:2] == [64]  # exported by the processor as a full batch
    flush(1000)  # the 6 left: at once
    assert sum(batches) == 75
    empty_before = len(batches)
    flush(1000)  # nothing queued: no export
    assert len(batches) == empty_before
    provider.shutdown()

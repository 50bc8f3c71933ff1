"""Optimizer, batcher, cache and budgets on real onnxruntime sessions of models built in the test."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time

import numpy as np
import onnxruntime as ort
import pytest

from agent_otel.optimize import Budget, BudgetExceeded, Budgets, DynamicBatcher, InferenceCache, ModelError, optimize
from agent_otel.optimize.measure import load_session
from agent_otel.optimize.models import mlp_bytes, tiny_classifier_bytes


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "mlp.onnx"
    path.write_bytes(mlp_bytes(layers=1, hidden=128, ffn=512))
    return path


def test_optimize_keeps_the_fastest_candidate_within_tolerance(otel, mlp, tmp_path):
    report = optimize(mlp, tmp_path / "best.onnx", runs=5, memory=False, tolerance=0.05)
    names = {c["name"] for c in report["candidates"]}
    assert {"original", "graph-disabled", "threads-1", "int8-dynamic-s8", "int8-dynamic-u8-perchannel"} <= names
    best = next(c for c in report["candidates"] if c["name"] == report["best"])
    kept = [c for c in report["candidates"] if c.get("accepted")]
    assert best["latency_p50_ms"] == min(c["latency_p50_ms"] for c in kept)
    assert all(c["accuracy"]["relative_error"] <= 0.05 for c in kept)
    assert all("reason" in c for c in report["candidates"] if not c.get("accepted"))
    written = ort.InferenceSession(str(tmp_path / "best.onnx"))
    assert written.get_inputs()[0].name == "x"
    assert json.loads((tmp_path / "best.onnx.report.json").read_text())["best"] == report["best"]
    spans = [s for s in otel.spans() if s.name == "optimize.candidate"]
    assert len(spans) == len([c for c in report["candidates"] if "latency_p50_ms" in c or "reason" in c])
    assert {s.attributes["candidate"] for s in spans} == names


def test_a_strict_tolerance_rejects_quantization(mlp, tmp_path):
    report = optimize(mlp, tmp_path / "best.onnx", runs=5, memory=False, tolerance=1e-6)
    assert not report["best"].startswith("int8")
    int8 = [c for c in report["candidates"] if c["name"].startswith("int8")]
    assert len(int8) >= 2  # the quantized candidates were tried, and each was turned down, saying why
    for c in int8:
        assert c["accepted"] is False, c
        assert c["reason"], c
        if "accuracy" in c:  # measured: refused for its error, not for failing to build
            assert c["accuracy"]["relative_error"] > 1e-6 and "tolerance" in c["reason"]


def test_bad_inputs_are_named(mlp, tmp_path):
    with pytest.raises(ModelError, match=r"input 'x' has shape \[2, 5\], the model expects \['batch', 128\]"):
        optimize(mlp, tmp_path / "o.onnx", inputs={"x": np.zeros((2, 5), np.float32)}, runs=5, memory=False)
    (tmp_path / "not.onnx").write_text("hello")
    with pytest.raises(ModelError, match="not.onnx: not a loadable ONNX model"):
        optimize(tmp_path / "not.onnx", tmp_path / "o.onnx")
    with pytest.raises(ModelError, match="execution provider 'CUDAExecutionProvider' is not available"):
        load_session(str(mlp), provider="CUDAExecutionProvider")


def test_cli_error_is_one_line(tmp_path):
    (tmp_path / "x.onnx").write_text("nope")
    proc = subprocess.run([sys.executable, "-m", "agent_otel.cli", "optimize", str(tmp_path / "x.onnx")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not a loadable ONNX model" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture
def classifier():
    return ort.InferenceSession(tiny_classifier_bytes(), providers=["CPUExecutionProvider"])


async def test_batcher_gives_each_caller_its_own_result(otel, classifier):
    batcher = DynamicBatcher(classifier, max_batch_size=16, max_wait_ms=5)
    rng = np.random.default_rng(0)
    samples = [rng.standard_normal(4).astype(np.float32) for _ in range(40)]
    results = await asyncio.gather(*(batcher.submit({"features": s}) for s in samples))
    for s, r in zip(samples, results):
        expected = classifier.run(None, {"features": s[None, :]})[0][0]
        np.testing.assert_allclose(r[0], expected, rtol=1e-5)
    sizes = [p for p in otel.metrics()["agent_otel.batcher.batch_size"]]
    assert sizes[0].count < 40 and sizes[0].max > 1  # callers were grouped
    await batcher.close()


async def test_batcher_bad_request_fails_only_its_caller(classifier):
    batcher = DynamicBatcher(classifier, max_batch_size=8, max_wait_ms=5)
    good = [batcher.submit({"features": np.ones(4, np.float32)}) for _ in range(3)]
    bad = batcher.submit({"features": np.ones(7, np.float32)})
    results = await asyncio.gather(*good, bad, return_exceptions=True)
    assert all(isinstance(r, list) for r in results[:3])
    assert isinstance(results[3], ModelError) and "must have shape [4], got [7]" in str(results[3])
    await batcher.close()


async def test_batcher_takes_plain_lists_and_checks_only_the_fixed_dims_of_symbolic_shapes():
    class Input:
        name, shape = "x", ["batch", "seq", 3]

    class Summing:
        def get_inputs(self):
            return [Input()]

        def run(self, names, feed):
            return [feed["x"].sum(axis=(1, 2))]

    batcher = DynamicBatcher(Summing())
    assert float((await batcher.submit({"x": [[1.0, 2.0, 3.0]]}))[0]) == 6.0  # a list; any length for "seq"
    assert float((await batcher.submit({"x": np.ones((5, 3))}))[0]) == 15.0
    with pytest.raises(ModelError, match=r"must have shape \['seq', 3\], got \[2, 4\]"):
        await batcher.submit({"x": np.zeros((2, 4))})
    await batcher.close()


async def test_batcher_run_failure_reaches_every_caller_of_that_batch():
    class Failing:
        def get_inputs(self):
            return ort.InferenceSession(tiny_classifier_bytes()).get_inputs()

        def run(self, *_):
            raise RuntimeError("device lost")

    batcher = DynamicBatcher(Failing(), max_batch_size=4, max_wait_ms=5)
    results = await asyncio.gather(*(batcher.submit({"features": np.ones(4, np.float32)}) for _ in range(4)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and str(r) == "device lost" for r in results)
    await batcher.close()


def test_cache_hits_misses_ttl_and_lru(otel):
    cache = InferenceCache(max_entries=2, ttl_s=0.2)
    a, b, c = ({"x": np.full(3, v, np.float32)} for v in (1, 2, 3))
    calls = []
    run = lambda feed: (lambda: calls.append(1) or feed["x"] * 2)  # noqa: E731
    cache.get_or_run(a, run(a))
    np.testing.assert_array_equal(cache.get_or_run({"x": np.full(3, 1, np.float32)}, run(a)), np.full(3, 2))
    assert len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    assert cache.get({"x": np.full(3, 1, np.float64)}) is None  # other dtype: other key
    cache.put(b, 1)
    cache.put(c, 2)
    assert len(cache) == 2 and cache.get(a) is None  # least recently used went first
    time.sleep(0.25)
    assert cache.get(c) is None  # expired
    results = {p.attributes["agent_otel.cache.result"]: p.value for p in otel.metrics()["agent_otel.cache.requests"]}
    assert results == {"hit": 1, "miss": 4} == {"hit": cache.hits, "miss": cache.misses}


async def test_budget_reject_and_wait(otel):
    budgets = Budgets({"bot": Budget(concurrent=1, mode="reject"), "waiter": Budget(concurrent=1, max_wait_s=2), "tokens": Budget(tokens_per_minute=100, mode="reject")})
    async with budgets.admit("bot"):
        with pytest.raises(BudgetExceeded, match="agent 'bot': concurrent budget of 1 exhausted"):
            async with budgets.admit("bot"):
                pass
    order = []

    async def hold(tag, delay):
        async with budgets.admit("waiter"):
            order.append(f"{tag}-in")
            await asyncio.sleep(delay)
            order.append(f"{tag}-out")

    await asyncio.gather(hold("a", 0.05), hold("b", 0))
    assert order == ["a-in", "a-out", "b-in", "b-out"]
    async with budgets.admit("tokens", tokens=80):
        pass
    with pytest.raises(BudgetExceeded, match="tokens_per_minute"):
        async with budgets.admit("tokens", tokens=30):
            pass
    recs = budgets.recommendations()
    assert any("bot: 50% of calls rejected on concurrent" in r for r in recs)
    m = otel.metrics()
    assert sum(p.value for p in m["agent_otel.budget.rejections"]) == 2
    assert sum(p.value for p in m["agent_otel.budget.waits"]) == 1


def test_bad_budget_is_named():
    with pytest.raises(ValueError, match="budget of 'x': concurrent must be positive, got 0"):
        Budgets({"x": Budget(concurrent=0)})


def test_calibration_set_adds_static_quantization_via_cli(mlp, tmp_path):
    calib = tmp_path / "calib.npz"
    np.savez(calib, x=np.random.default_rng(2).standard_normal((16, 128)).astype(np.float32))
    proc = subprocess.run(
        [sys.executable, "-m", "agent_otel.cli", "optimize", str(mlp), "-o", str(tmp_path / "best.onnx"), "--calibration", str(calib),
         "--runs", "5", "--tolerance", "0.05", "--format", "json"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    static = next(c for c in report["candidates"] if c["name"] == "int8-static-qdq")
    assert static["settings"]["quantization"] == "static" and "latency_p50_ms" in static
    assert report["gains"]["speedup_x"] >= 1.0 and (tmp_path / "best.onnx").exists()


def test_terminal_output_names_the_input_shape_and_why_each_candidate_was_rejected(mlp, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "agent_otel.cli", "optimize", str(mlp), "-o", str(tmp_path / "best.onnx"), "--runs", "5", "--tolerance", "0.0001"],
        capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "best.onnx.report.json").read_text())
    (name, shape), = report["inputs"].items()
    assert f"measured on inputs: {name} float32[{', '.join(map(str, shape))}] (random, in the model's declared shapes; pass --inputs" in proc.stdout
    rejected = [c for c in report["candidates"] if not c["accepted"]]
    assert any(c["name"].startswith("int8") for c in rejected)  # int8 cannot stay within 0.01% of the fp32 outputs
    for c in rejected:
        assert f"rejected {c['name']}: {c['reason']}" in proc.stdout


def test_batch_policy_never_holds_a_request_while_a_runner_is_free():
    from agent_otel.optimize.batcher import BatchPolicy

    policy = BatchPolicy(max_batch_size=32)
    assert policy.take(queued=1, running=0) == 1  # a lone caller runs at once
    assert policy.take(queued=50, running=0) == 32  # an idle batcher takes a full batch
    # a run of 8 in progress: a second starts only once as many wait (it would only share the cores)...
    assert policy.take(queued=3, running=1, smallest_running=8) == 0
    assert policy.take(queued=8, running=1, smallest_running=8) == 8
    assert policy.take(queued=40, running=1, smallest_running=32) == 32
    assert policy.take(queued=1, running=1, smallest_running=1) == 1  # two lone callers run side by side, like plain calls
    assert policy.take(queued=64, running=2, smallest_running=1) == 0  # ...and never more than batch_runners at once


def test_batch_policy_stops_grouping_when_it_does_not_pay_and_rechecks():
    from agent_otel.optimize.batcher import BatchPolicy

    policy = BatchPolicy(max_batch_size=32, max_parallel_runs=8, recheck_every=10)
    for _ in range(5):
        policy.observe(1, 0.010)
        policy.observe(16, 0.160)  # a batch costs as much per request as a single run
    assert not policy.grouping_pays
    # then requests run one by one, up to max_parallel_runs at once, like plain concurrent calls
    assert [policy.take(queued=20, running=r) for r in range(8)] == [1] * 8
    assert policy.take(queued=20, running=8) == 0
    # every recheck_every-th decision tries a batch again: the model or the load may have changed
    decisions = [policy.take(queued=20, running=0) for _ in range(10)]
    assert decisions.count(20) == 1 and decisions.count(1) == 9
    for _ in range(10):
        policy.observe(16, 0.040)  # now a batch is 4x cheaper per request
    assert policy.grouping_pays and policy.take(queued=20, running=0) == 20


def test_batch_policy_runs_short_runs_the_way_measured_faster_and_rechecks():
    from agent_otel.optimize.batcher import BatchPolicy, WayChoice

    policy = BatchPolicy(inline_s=0.001, single_way=WayChoice(recheck_every=20, trial_runs=4))
    assert not policy.runs_inline(1, running=0)  # nothing measured yet: the pool (that run measures the model)
    policy.observe(1, 0.0004)
    assert [policy.runs_inline(1, running=0) for _ in range(4)] == [False, False, True, True]  # a trial: a block each way
    for inline, cycle in ((False, 0.0006), (False, 0.0006), (True, 0.0012), (True, 0.0012)):
        policy.single_way.observe(inline, cycle)  # on the loop thread a cycle took longer (a busy machine)
    assert policy.single_way.pooled_cycle_s == pytest.approx(0.0006) and policy.single_way.inline_cycle_s == pytest.approx(0.0012)
    assert [policy.runs_inline(1, running=0) for _ in range(16)] == [False] * 16  # so the pool...
    assert [policy.runs_inline(1, running=0) for _ in range(4)] == [False, False, True, True]  # ...and a trial again
    for _ in range(10):
        policy.observe_cycle(1, True, 0.0003)  # now the loop thread is faster
    assert policy.runs_inline(1, running=0)
    policy.observe_cycle(1, True, 0.5)  # the caller paused: no measure of either way
    assert policy.single_way.inline_cycle_s < 0.001
    policy.single_way.observe(False, 0.1)  # the first cycle after a change of way is not counted
    assert policy.single_way.pooled_cycle_s == pytest.approx(0.0006)
    assert not policy.runs_inline(1, running=1)  # never beside a run in progress
    # grouped runs are judged apart, per request: a batch of 4 known to take 0.6 ms qualifies, one of 8 (1.2 ms) does not
    policy.observe(4, 0.0006)
    assert not policy.runs_inline(8, running=0)
    assert [policy.runs_inline(4, running=0) for _ in range(16)] == [False] * 8 + [True] * 8
    for inline, cycle in [(False, 0.0016)] * 3 + [(True, 0.0008)] * 3:
        policy.observe_cycle(4, inline, cycle)
    assert policy.runs_inline(4, running=0) and policy.grouped_way.inline_cycle_s == pytest.approx(0.0002)
    for _ in range(20):
        policy.observe(1, 0.005)
    assert not policy.runs_inline(1, running=0)  # runs longer than inline_s never block the loop
    assert not BatchPolicy(inline_s=0, single_s=0.0001).runs_inline(1, 0)


async def test_batcher_runs_a_lone_caller_at_once_and_groups_the_callers_of_one_turn(classifier):
    from agent_otel.optimize.batcher import DynamicBatcher as Batcher

    batcher = Batcher(classifier, max_batch_size=16, inline_ms=0)  # every run in the pool (short runs on the loop: the next test)
    sizes: list[int] = []
    observe = batcher.policy.observe
    batcher.policy.observe = lambda n, s: (sizes.append(n), observe(n, s))  # type: ignore[method-assign]
    rng = np.random.default_rng(1)
    for _ in range(3):  # one caller at a time: each runs alone, nobody waits, same result as a direct run
        x = rng.standard_normal(4).astype(np.float32)
        got = await asyncio.wait_for(batcher.submit({"features": x}), 5)
        np.testing.assert_allclose(got[0], classifier.run(None, {"features": x[None, :]})[0][0], rtol=1e-6)
    assert sizes == [1, 1, 1]
    sizes.clear()
    x = np.ones(4, np.float32)
    await asyncio.gather(*(batcher.submit({"features": x}) for _ in range(17)))
    # after lone runs the first of a burst starts at once, a second lone caller runs beside it, the others share the next run
    assert sorted(sizes) == [1, 1, 15]
    sizes.clear()
    await asyncio.gather(*(batcher.submit({"features": x}) for _ in range(17)))
    assert sizes == [16, 1]  # callers overlapped: those of one loop turn share a full batch, the 17th runs after it
    await batcher.close()


class _Recording:
    """The classifier, recording each run's size and thread; runs on the thread named `slow_on`
    ("pool" or "loop") take 3 ms longer, so which way answers sooner is known whatever the load."""

    def __init__(self, classifier, slow_on: str) -> None:
        self.classifier, self.slow_on = classifier, slow_on
        self.loop_thread = threading.get_ident()
        self.threads: list[tuple[int, bool]] = []  # (run size, ran on the loop thread)

    def get_inputs(self):
        return self.classifier.get_inputs()

    def run(self, names, feed):
        on_loop = threading.get_ident() == self.loop_thread
        self.threads.append((len(feed["features"]), on_loop))
        if on_loop == (self.slow_on == "loop"):
            time.sleep(0.003)
        return self.classifier.run(names, feed)


async def test_batcher_runs_short_runs_on_the_loop_thread_when_that_answers_sooner(classifier):
    """A short run that answers sooner on the loop than through the pool skips the thread
    hand-off; callers still yield to the loop once per request."""
    session = _Recording(classifier, slow_on="pool")
    ticker = _Ticker(0)
    batcher = DynamicBatcher(session, max_batch_size=16, inline_ms=50)
    x = np.ones(4, np.float32)
    for _ in range(30):
        got = await batcher.submit({"features": x})
        np.testing.assert_allclose(got[0], classifier.run(None, {"features": x[None, :]})[0][0], rtol=1e-6)
    ways = [on_loop for _, on_loop in session.threads]
    # the first run of one measures it, in the pool; then a trial (8 in the pool, 8 on the loop thread); then the faster way
    assert ways == [False] + [False] * 8 + [True] * 8 + [True] * 13
    assert batcher.policy.single_way.inline_cycle_s < batcher.policy.single_way.pooled_cycle_s
    assert ticker.ticks >= 29  # one caller in a tight loop still let the ticker run between its requests
    ticker.task.cancel()
    await batcher.close()

    grouped = _Recording(classifier, slow_on="pool")
    batcher = DynamicBatcher(grouped, max_batch_size=16, inline_ms=50)
    for _ in range(24):
        await asyncio.gather(*(batcher.submit({"features": x}) for _ in range(16)))
    # batches too: the first measures the size in the pool, then a trial, then the faster way
    assert grouped.threads == [(16, False)] * 9 + [(16, True)] * 15
    await batcher.close()

    never = _Recording(classifier, slow_on="pool")
    for _ in range(5):
        await DynamicBatcher(never, max_batch_size=16, inline_ms=0).submit({"features": x})
    assert not any(on_loop for _, on_loop in never.threads)  # inline_ms=0: the loop never runs the model
    with pytest.raises(ValueError, match="inline_ms"):
        DynamicBatcher(classifier, inline_ms=-1)


async def test_batcher_keeps_runs_in_the_pool_when_the_loop_thread_answers_slower(classifier):
    session = _Recording(classifier, slow_on="loop")
    batcher = DynamicBatcher(session, max_batch_size=16, inline_ms=50)
    for _ in range(40):
        await batcher.submit({"features": np.ones(4, np.float32)})
    ways = [on_loop for _, on_loop in session.threads]
    assert ways == [False] * 9 + [True] * 8 + [False] * 23  # tried on the loop thread, measured slower: back to the pool
    await batcher.close()


class _Ticker:
    """Counts the turns the event loop gives another coroutine (one per `interval` seconds at most)."""

    def __init__(self, interval: float) -> None:
        self.ticks = 0
        self.task = asyncio.ensure_future(self._run(interval))

    async def _run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.ticks += 1


class _Slow:
    """A session whose runs take `seconds` and fail for a batch holding a NaN (a bad row of one caller)."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.inner = ort.InferenceSession(tiny_classifier_bytes(), providers=["CPUExecutionProvider"])

    def get_inputs(self):
        return self.inner.get_inputs()

    def run(self, names, feed):
        time.sleep(self.seconds)
        if np.isnan(feed["features"]).any():
            raise ValueError("NaN in features")
        return self.inner.run(names, feed)


async def test_batcher_run_error_reaches_the_callers_of_that_run_only():
    batcher = DynamicBatcher(_Slow(0.05), max_batch_size=4)
    bad = np.full(4, np.nan, np.float32)
    first = [asyncio.ensure_future(batcher.submit({"features": v})) for v in (bad, np.ones(4, np.float32))]
    await asyncio.sleep(0.01)  # the first run is in progress: these queue and form the next one
    second = [asyncio.ensure_future(batcher.submit({"features": np.ones(4, np.float32)})) for _ in range(3)]
    results = await asyncio.gather(*first, *second, return_exceptions=True)
    assert all(isinstance(r, ValueError) and str(r) == "NaN in features" for r in results[:2])
    assert all(isinstance(r, list) and r[0].shape == (3,) for r in results[2:])
    await batcher.close()


async def test_batcher_keeps_the_event_loop_free_and_a_cancelled_caller_cancels_nobody_else():
    batcher = DynamicBatcher(_Slow(0.2), max_batch_size=8)
    ticker = _Ticker(0.01)
    callers = [asyncio.ensure_future(batcher.submit({"features": np.ones(4, np.float32)})) for _ in range(3)]
    await asyncio.sleep(0.05)
    callers[0].cancel()
    results = await asyncio.gather(*callers, return_exceptions=True)
    ticker.task.cancel()
    assert isinstance(results[0], asyncio.CancelledError)
    assert all(isinstance(r, list) for r in results[1:])
    assert ticker.ticks >= 10  # the loop ran other coroutines during the 0.2 s run
    await batcher.close()


async def test_batcher_close_waits_for_runs_and_fails_what_is_queued():
    batcher = DynamicBatcher(_Slow(0.2), max_batch_size=2)
    running = [asyncio.ensure_future(batcher.submit({"features": np.ones(4, np.float32)})) for _ in range(2)]
    await asyncio.sleep(0.05)  # a run of 2 is in progress; the next request queues behind it
    queued = asyncio.ensure_future(batcher.submit({"features": np.ones(4, np.float32)}))
    await asyncio.sleep(0)
    await batcher.close()
    assert all(r.done() and isinstance(r.result(), list) for r in running)  # close waited for the run in progress
    with pytest.raises(RuntimeError, match="closed before this request ran"):
        await queued
    assert isinstance(await batcher.submit({"features": np.ones(4, np.float32)}), list)  # usable again after close
    await batcher.close()


async def test_batcher_outputs_without_a_batch_dimension_fail_their_callers_instead_of_hanging():
    class Flat(_Slow):
        def run(self, names, feed):
            return [np.zeros(3, np.float32)]  # one row whatever the batch: a model with a fixed output shape

    batcher = DynamicBatcher(Flat(), max_batch_size=8)
    results = await asyncio.wait_for(asyncio.gather(*(batcher.submit({"features": np.ones(4, np.float32)}) for _ in range(5)),
                                                    return_exceptions=True), 5)
    assert all(isinstance(r, ModelError) and "no batch dimension of 5" in str(r) for r in results)
    await batcher.close()

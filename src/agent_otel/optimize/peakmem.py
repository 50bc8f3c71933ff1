"""Child process of `measure.peak_memory`: load and run one model, print the RSS it added (sampled after loading and after each run)."""

from __future__ import annotations

import json
import sys

import numpy as np
import psutil
import onnxruntime  # noqa: F401 - imported before the baseline is taken

from agent_otel.optimize.measure import load_session


def main() -> None:
    model, inputs, session_kw = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    feed = dict(np.load(inputs))
    proc = psutil.Process()
    base = proc.memory_info().rss
    session = load_session(model, **session_kw)
    peak = proc.memory_info().rss
    for _ in range(3):
        session.run(None, feed)
        peak = max(peak, proc.memory_info().rss)
    print(max(peak - base, 0))


if __name__ == "__main__":
    main()

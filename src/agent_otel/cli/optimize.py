"""`agent-otel optimize MODEL.onnx`: find the fastest settings that keep the model's answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from agent_otel.cli.common import fail, stdout_console

err = Console(stderr=True)


def _npz(path: Optional[Path], what: str):  # type: ignore[no-untyped-def]
    if path is None:
        return None
    import numpy as np

    try:
        return dict(np.load(path))
    except (OSError, ValueError) as exc:
        fail(f"{what} {path}: not a readable .npz of input arrays ({exc})")


def optimize(
    model: Path = typer.Argument(..., help="The ONNX model to optimize."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Where the best model goes (default: MODEL.optimized.onnx)."),
    inputs: Optional[Path] = typer.Option(None, help="Representative inputs (.npz, one array per model input); default: random in the declared shapes."),
    calibration: Optional[Path] = typer.Option(None, help="Calibration set (.npz) to also try static int8 quantization."),
    tolerance: float = typer.Option(0.02, min=0.0, help="Largest relative output error a candidate may have."),
    runs: int = typer.Option(50, min=5, help="Timed runs per candidate."),
    fmt: str = typer.Option("terminal", "--format", help="terminal or json."),
) -> None:
    """Try graph levels, threads, int8 quantization and providers; keep the fastest within tolerance."""
    from agent_otel.optimize import ModelError
    from agent_otel.optimize import optimize as run

    if fmt not in ("terminal", "json"):
        fail(f"--format {fmt!r}: expected terminal or json")
    if not model.is_file():
        fail(f"{model}: no such file")
    out = output or model.with_suffix(".optimized.onnx")
    try:
        with err.status("optimizing...") as status:
            report = run(str(model), str(out), inputs=_npz(inputs, "--inputs"), calibration=_npz(calibration, "--calibration"),
                         tolerance=tolerance, runs=runs, progress=lambda m: status.update(m))
    except ModelError as exc:
        fail(str(exc))
    if fmt == "json":
        print(json.dumps(report, indent=2))
        return
    console = stdout_console()
    shapes = ", ".join(f"{name} {report.get('input_dtypes', {}).get(name, '')}[{', '.join(map(str, shape))}]" for name, shape in report["inputs"].items())
    console.print(f"measured on inputs: {shapes} ({report.get('inputs_from', 'given')}"
                  + ("; pass --inputs FILE.npz for your own" if inputs is None else "") + ")", highlight=False)
    table = Table(title=f"candidates for {model.name} (tolerance {tolerance})")
    for col in ("candidate", "p50 ms", "p95 ms", "/s", "size MB", "mem MB", "rel. error", "kept"):
        table.add_column(col, justify="left" if col == "candidate" else "right")
    for c in report["candidates"]:
        if "latency_p50_ms" not in c:
            table.add_row(c["name"], "", "", "", "", "", "", f"[red]no[/red] {c.get('reason', '')[:40]}")
            continue
        table.add_row(c["name"], f"{c['latency_p50_ms']:.3f}", f"{c['latency_p95_ms']:.3f}", f"{c['throughput_per_s']:,.0f}",
                      f"{c['size_bytes'] / 1e6:.2f}", f"{c['memory_bytes'] / 1e6:.1f}", f"{c['accuracy']['relative_error']:.4f}",
                      "[green]yes[/green]" if c["accepted"] else "[red]no[/red]")
    console.print(table)
    for c in report["candidates"]:
        if not c.get("accepted"):
            console.print(f"rejected {c['name']}: {c.get('reason') or 'not accepted'}", highlight=False)
    g = report["gains"]
    stdout_console().print(f"best: [b]{report['best']}[/b] -> {out}  speed-up {g['speedup_x']}x ({g['speedup_pct']:+.0f}%), "
                    f"size -{g['size_reduction_pct']:.0f}%, memory {'-' + format(g['memory_reduction_pct'], '.0f') + '%' if g['memory_reduction_pct'] is not None else 'n/a'}; "
                    f"report: {out}.report.json")

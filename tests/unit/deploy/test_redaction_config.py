"""The collector masks the SDK's secret patterns, generated from the one list in agent_otel.redaction."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from agent_otel import redaction

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("sync_redaction", ROOT / "deploy/collector/sync_redaction.py")
sync_redaction = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync_redaction)


def _unescape(values: list[str]) -> list[str]:
    return [v.replace("$$", "$") for v in values]


def test_generated_blocks_are_up_to_date():
    for path in sync_redaction.TARGETS:
        text = path.read_text()
        assert sync_redaction.render(text, list(redaction.DEFAULT_PATTERNS)) == text, f"{path}: run python deploy/collector/sync_redaction.py"
    assert sync_redaction.EMAIL_OVERLAY.read_text() == sync_redaction.email_overlay(), "run python deploy/collector/sync_redaction.py"


def test_collector_masks_the_sdk_patterns_in_every_pipeline():
    cfg = yaml.safe_load((ROOT / "collector-config.yaml").read_text())
    red = cfg["processors"]["redaction"]
    assert red["allow_all_keys"] is True  # mask values, drop no attribute
    assert _unescape(red["blocked_values"]) == [p.regex for p in redaction.DEFAULT_PATTERNS]
    assert _unescape(red["blocked_key_patterns"]) == [redaction.KEY_PATTERN.regex]
    statements = cfg["processors"]["transform/redaction"]["trace_statements"][0]["statements"]
    assert len(statements) == 2 * len(redaction.DEFAULT_PATTERNS)
    for name, pipeline in cfg["service"]["pipelines"].items():
        procs = pipeline["processors"]
        assert procs[:2] == ["memory_limiter", "redaction"], f"{name}: redaction right after memory_limiter, before anything exports"
    assert "transform/redaction" in cfg["service"]["pipelines"]["traces"]["processors"]


def test_sampled_traces_and_the_operator_sidecar_are_masked_too():
    sampling = yaml.safe_load((ROOT / "deploy/collector/sampling.yaml").read_text())
    assert sampling["service"]["pipelines"]["traces/sampled"]["processors"][:3] == ["memory_limiter", "redaction", "transform/redaction"]
    docs = list(yaml.safe_load_all((ROOT / "deploy/kubernetes/operator/collector-sidecar.yaml").read_text()))
    config = docs[0]["spec"]["config"]
    assert _unescape(config["processors"]["redaction"]["blocked_values"]) == [p.regex for p in redaction.DEFAULT_PATTERNS]
    for pipeline in config["service"]["pipelines"].values():
        assert "redaction" in pipeline["processors"]


def test_email_overlay_adds_the_email_pattern_to_the_full_list():
    overlay = yaml.safe_load(sync_redaction.EMAIL_OVERLAY.read_text())
    values = _unescape(overlay["processors"]["redaction"]["blocked_values"])
    assert values == [p.regex for p in redaction.DEFAULT_PATTERNS] + [redaction.EMAIL_PATTERN.regex]

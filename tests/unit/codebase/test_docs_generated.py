"""Pages generated from code stay as the code generates them (`python -m agent_otel.docs_gen`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from agent_otel import docs_gen

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.mark.parametrize("name", sorted(docs_gen.BLOCKS))
def test_generated_block_matches_the_code(name: str) -> None:
    page = DOCS / docs_gen.BLOCKS[name][0]
    text = page.read_text()
    assert f"<!-- generated:{name} -->" in text, f"{page} lacks the generated block {name}"
    assert docs_gen.rendered(name, text) == text, f"{page} is stale: run `python -m agent_otel.docs_gen`"


def test_the_documented_schema_accepts_a_report_and_refuses_a_stray_key(tmp_path) -> None:
    from agent_otel.analyzer import build_report
    from agent_otel.analyzer.sources.local import LocalSource
    from spanwriter import MS, T0, Writer

    w = Writer(tmp_path / "s.db")
    for i in range(5):
        root = w.span("agent", "bot", i * 100, 50)
        w.span("tool", "search", i * 100 + 1, 20, parent=root, error="Timeout" if i == 0 else None)
    block = (DOCS / "report-schema.md").read_text().split("<!-- generated:report-schema -->")[1]
    schema = json.loads(re.search(r"```json\n(.*?)\n```", block, re.S).group(1))
    doc = json.loads(build_report(LocalSource(tmp_path / "s.db"), T0, T0 + 3_600_000 * MS).to_json())
    jsonschema.validate(doc, schema)
    doc["groups"][0]["latency_ms"]["p42"] = 1.0
    with pytest.raises(jsonschema.ValidationError, match="p42"):
        jsonschema.validate(doc, schema)

"""Docs generated from the code that defines them: the report's JSON schema (analyzer/model.py) in
docs/report-schema.md, the settings table (settings.py) in docs/settings.md.

Each generated block sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`;
`python -m agent_otel.docs_gen` rewrites the blocks, and tests/unit/codebase/test_docs_generated.py
fails when a committed page differs from what the code generates.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def report_schema() -> str:
    from agent_otel.analyzer.model import SCHEMA, SCHEMA_VERSION, json_schema, schema_text

    return (f"## JSON schema (generated)\n\nThe schema of `{SCHEMA}` version {SCHEMA_VERSION}, generated from "
            "`agent_otel/analyzer/model.py` (`python -m agent_otel.docs_gen`); a test checks this page matches it.\n\n"
            "```json\n" + schema_text(json_schema()) + "\n```")


def settings_table() -> str:
    from agent_otel.settings import table_markdown

    return ("Generated from `agent_otel/settings.py` (`python -m agent_otel.docs_gen`); a test checks this page matches it.\n"
            "A `configure()` argument wins over its variable.\n\n" + table_markdown())


BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {
    "report-schema": ("report-schema.md", report_schema),
    "settings": ("settings.md", settings_table),
}


def _block(name: str, body: str) -> str:
    return f"<!-- generated:{name} -->\n{body}\n<!-- /generated:{name} -->"


def rendered(name: str, text: str) -> str:
    """`text` with block `name` replaced by (or, when missing, followed by) what the code generates now."""
    body = BLOCKS[name][1]()
    pattern = re.compile(rf"<!-- generated:{re.escape(name)} -->\n.*?\n<!-- /generated:{re.escape(name)} -->", re.S)
    if pattern.search(text):
        return pattern.sub(lambda _m: _block(name, body), text)
    return text.rstrip("\n") + "\n\n" + _block(name, body) + "\n"


def main(docs: Path = DOCS) -> int:
    for name, (page, _) in BLOCKS.items():
        path = docs / page
        path.write_text(rendered(name, path.read_text() if path.exists() else ""))
        print(f"wrote {path} ({name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

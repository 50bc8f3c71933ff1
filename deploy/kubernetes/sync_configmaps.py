"""Copy the collector configs into the ConfigMaps of deploy/kubernetes (a test checks they match).

    python deploy/kubernetes/sync_configmaps.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {
    "collector-config.yaml": ROOT / "collector-config.yaml",
    "sampling.yaml": ROOT / "deploy/collector/sampling.yaml",
    "auth.yaml": ROOT / "deploy/collector/auth.yaml",
    "forward.yaml": ROOT / "deploy/gateway/forward.yaml",
}
BLOCK = re.compile(r"^(  (?P<key>[\w.-]+\.yaml): \|\n)((?:    .*\n|\n)*)", re.M)


def sync(path: Path) -> bool:
    text = path.read_text()

    def body(m: re.Match[str]) -> str:
        src = SOURCES.get(m["key"])
        if src is None:
            return m[0]
        return m[1] + "".join(f"    {line}\n" if line else "\n" for line in src.read_text().rstrip("\n").split("\n"))

    new = BLOCK.sub(body, text)
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":
    for manifest in sorted((ROOT / "deploy/kubernetes").rglob("*.yaml")):
        if sync(manifest):
            print(f"updated {manifest.relative_to(ROOT)}")

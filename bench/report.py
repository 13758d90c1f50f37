"""Write a benchmark's table into docs/benchmarks.md, replacing that benchmark's earlier section."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(script: str, title: str, lines: list[str], doc: Path = DOC) -> None:
    """Put ``lines`` between markers named after ``script``; add a ``## title`` section the first time."""
    mark = f"<!-- bench/{script} -->"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    block = "\n".join([mark, *lines, mark])
    if mark in text:
        head, _, rest = text.partition(mark)
        text = head + block + rest.partition(mark)[2]
    else:
        text = text.rstrip() + f"\n\n## {title}\n\n" + block + "\n"
    doc.write_text(text)

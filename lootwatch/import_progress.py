"""The console side of ``lootwatch registry import``: progress bars on stderr (records read, photos
hashed, with rates and an estimate) and one line per refused row or photo problem."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from spiders.registries.local_import import ImportCounts, Reporter

__all__ = ["ConsoleReporter", "estimate_rows"]

LINE_FORMATS = (".csv", ".tsv", ".txt", ".jsonl")
PLAIN_EVERY = 10.0  # seconds between progress lines where stderr is a log, not a terminal


class _Rate(ProgressColumn):
    def render(self, task: Any) -> Text:
        return Text(f"{task.speed or 0:,.1f}/s")


def estimate_rows(path: str | Path) -> int | None:
    """About how many rows a line-per-row file holds (its line count), read at disk speed; None for
    formats where a record spans lines (JSON) or a file that cannot be read."""
    path = Path(path)
    if path.suffix.lower() not in LINE_FORMATS:
        return None
    lines = 0
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                lines += chunk.count(b"\n")
    except OSError:
        return None
    return max(lines - 1, 1) if path.suffix.lower() != ".jsonl" else max(lines, 1)


class ConsoleReporter(Reporter):
    """Show an import's progress and problems on stderr; use as a context manager."""

    def __init__(self, file: str | Path):
        self.console = Console(stderr=True)
        self.total = estimate_rows(file)
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _Rate(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.rows = self.bars.add_task("records read", total=self.total)
        self.photos = self.bars.add_task("photos hashed", total=None)
        # Under cron or a systemd timer stderr is a log: bars would draw nothing there, lines do.
        self.plain = not self.console.is_terminal
        self.started = self.last_line = time.monotonic()

    def __enter__(self) -> ConsoleReporter:
        if not self.plain:
            self.bars.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.plain:
            self.bars.stop()

    def line(self, text: str) -> None:
        """Print one problem line above the bars, never wrapped."""
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def progress(self, counts: ImportCounts) -> None:
        """Move the bars to ``counts``."""
        total = max(self.total, counts.read) if self.total else None
        if self.plain:
            self._plain_line(counts, total)
            return
        self.bars.update(self.rows, completed=counts.read, total=total)
        self.bars.update(self.photos, completed=counts.hashed + counts.known)

    def _plain_line(self, counts: ImportCounts, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last_line < PLAIN_EVERY:
            return
        self.last_line = now
        seconds = max(now - self.started, 1e-6)
        of = f" of about {total:,}" if total else ""
        left = ""
        if total and counts.read:
            left = f", about {(total - counts.read) * seconds / counts.read:,.0f} s left"
        self.line(
            f"records read {counts.read:,}{of} ({counts.read / seconds:,.1f}/s), photos hashed "
            f"{counts.hashed + counts.known:,} ({(counts.hashed + counts.known) / seconds:,.1f}/s){left}"
        )

"""Progress of long work on stderr: bars on a terminal, a plain line now and then where stderr is a log
(cron, a systemd timer, a pipe), where bars would draw nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

__all__ = ["bar", "bars", "say", "PLAIN_EVERY"]

PLAIN_EVERY = 10.0  # seconds between plain progress lines


def _console() -> Console:
    return Console(stderr=True)


def say(text: str) -> None:
    """One line on stderr saying what is being done, as written (no markup)."""
    _console().print(text, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def bars(
    totals: dict[str, int | None], plain_every: float = PLAIN_EVERY
) -> Iterator[Callable[[str, int, int | None], None]]:
    """Yield ``update(label, done, total)`` driving one bar per label of ``totals`` (label -> total, None
    when unknown), all shown together.

    Where stderr is no terminal, a label's progress is a line ``label: done of total`` at most every
    ``plain_every`` seconds, and only when it moved.
    """
    console = _console()
    if not console.is_terminal:
        last = dict.fromkeys(totals, time.monotonic())
        shown = dict.fromkeys(totals, 0)

        def plain(label: str, done: int, total: int | None = None) -> None:
            now = time.monotonic()
            if now - last[label] < plain_every or done == shown[label]:
                return
            last[label], shown[label] = now, done
            total = total if total is not None else totals[label]
            say(f"{label}: {done:,}" + (f" of {total:,}" if total else ""))

        yield plain
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        tasks = {label: progress.add_task(label, total=total) for label, total in totals.items()}

        def update(label: str, done: int, total: int | None = None) -> None:
            progress.update(tasks[label], completed=done, total=total if total is not None else totals[label])

        yield update


@contextmanager
def bar(label: str, plain_every: float = PLAIN_EVERY) -> Iterator[Callable[[int, int], None]]:
    """Yield ``update(done, total)`` driving one progress bar (see ``bars``)."""
    with bars({label: None}, plain_every) as update:
        yield lambda done, total: update(label, done, total)

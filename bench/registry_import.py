"""Speed of ``lootwatch registry import``: local photos hashed on every core, and text-only rows.

    python bench/registry_import.py [--photos 10000] [--rows 200000] [--workers N]

- photos: the demo registry's photos made into ``--photos`` distinct files (each re-encoded at its own
  JPEG quality and cropped by a few pixels, so every SHA-256 differs), one record each, imported with
  ``import_registry`` (``--workers`` hashing processes, default one per core), against hashing the same
  photos with ``fingerprint(data, all_transforms=True)`` in one process (baseline). Also the share of the
  import spent reading the photos (the fetch step: read, SHA-256, kept under originals/).
- rows: ``--rows`` text-only records imported by ``lootwatch registry import`` in a subprocess: wall
  time and its peak RSS, against reading the same file with ``csv.DictReader`` alone (baseline).
Writes its tables into docs/benchmarks.md (``--no-write`` to only print).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from matcher.photo.fingerprint import fingerprint  # noqa: E402
from matcher.photo.hash_pool import default_workers  # noqa: E402
from seeds.demo.build import build  # noqa: E402
from spiders.registries.local_import import import_registry  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "registry_import"
QUALITIES = 25  # distinct JPEG qualities (70..94) before a crop grows by one pixel


def distinct_photos(n: int) -> list[Path]:
    """``n`` distinct photos made from the demo registry's, drawn once into bench/.cache."""
    folder = CACHE / f"photos-{n}"
    done = folder / "done"
    paths = [folder / f"p{i:05d}.jpg" for i in range(n)]
    if done.exists():
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    # A demo of our own: bench/.cache/demo is shared with benchmarks that may be drawing it right now.
    sources = sorted((build(CACHE / "demo").root / "registry" / "photos").glob("*.jpg"))
    for i, path in enumerate(paths):
        k = i // len(sources)  # the k-th copy of this source photo: its own quality and crop
        crop = 1 + k // QUALITIES
        with Image.open(sources[i % len(sources)]) as im:
            im = im.convert("RGB")
            im.crop((crop, crop, im.width - crop, im.height)).save(path, "JPEG", quality=70 + k % QUALITIES)
    done.write_text("")
    return paths


def photo_csv(paths: list[Path], name: str) -> Path:
    """A registry file with one record per photo, photos named relative to the file."""
    file = CACHE / f"registry-{name}.csv"
    with file.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "source_id", "title", "images"])
        for p in paths:
            w.writerow(["bench", p.stem, f"Object {p.stem}", p.relative_to(CACHE).as_posix()])
    return file


def _cpu() -> float:
    """CPU seconds of this process and of its children waited for (the hashing workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_baseline(paths: list[Path]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``fingerprint(..., all_transforms=True)`` over ``paths`` in this process."""
    started, cpu = time.perf_counter(), _cpu()
    for p in paths:
        fingerprint(p.read_bytes(), all_transforms=True)
    return time.perf_counter() - started, _cpu() - cpu


def run_import(paths: list[Path], name: str, workers: int) -> tuple[float, float, float, int]:
    """(wall, CPU, reading) seconds and photos hashed of ``import_registry`` into a fresh database."""
    file = photo_csv(paths, name)
    with tempfile.TemporaryDirectory() as tmp:
        started, cpu = time.perf_counter(), _cpu()
        counts = import_registry(Path(tmp) / "l.db", Path(tmp) / "data", file, workers=workers)
        return time.perf_counter() - started, _cpu() - cpu, counts.read_seconds, counts.hashed


def bench_photos(n: int, workers: int) -> list[str]:
    """The photo import against single-process hashing, as markdown lines.

    Run as import, baseline, baseline, import over the two halves of the photos, so a load that rises
    or falls during the run (the machine is shared) weighs on both sides alike.
    """
    paths = distinct_photos(n)
    halves = [paths[: n // 2], paths[n // 2 :]]
    load = os.getloadavg()[0]
    first = run_import(halves[0], f"{n}-a", workers)
    base = [run_baseline(h) for h in halves]
    second = run_import(halves[1], f"{n}-b", workers)
    took, cpu, reading, hashed = (x + y for x, y in zip(first, second, strict=True))
    base_wall, base_cpu = sum(b[0] for b in base), sum(b[1] for b in base)
    rate, base_rate = hashed / took, n / base_wall
    load = f"{load:.1f} to {os.getloadavg()[0]:.1f}"
    print(
        f"photos: import {rate:.1f}/s ({workers} workers), baseline {base_rate:.1f}/s, read {reading:.1f} s"
    )
    return [
        f"Registry import of {n:,} distinct local photos (the demo registry's, re-encoded and cropped), one "
        f"record each; {workers} hashing workers; {_machine()}; load average {load} (a shared machine):",
        "",
        "| | photos/s | ratio | CPU ms per photo |",
        "|---|---|---|---|",
        f"| `fingerprint(data, all_transforms=True)` in one process (baseline) | {base_rate:.1f} | 1.0x "
        f"| {base_cpu / n * 1000:.0f} |",
        f"| `import_registry` (read, keep original, hash in workers, store) | {rate:.1f} "
        f"| {rate / base_rate:.2f}x | {cpu / hashed * 1000:.0f} |",
        "",
        f"Import {took:.1f} s in all, of which reading the photos (read, SHA-256, keep under originals/) "
        f"{reading:.1f} s ({reading / took:.1%}); {hashed:,} photos hashed. Run as import, baseline, "
        "baseline, import over the two halves of the photos, so a changing load weighs on both alike.",
    ]


def rows_csv(n: int) -> Path:
    """A text-only registry file of ``n`` records, written once into bench/.cache."""
    file = CACHE / f"rows-{n}.csv"
    if file.exists():
        return file
    CACHE.mkdir(parents=True, exist_ok=True)
    with file.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            ["source", "source_id", "title", "object_type", "materials", "period", "description", "status"]
        )
        for i in range(n):
            w.writerow(
                [
                    "bench-rows",
                    f"R{i:07d}",
                    f"Funerary stele of Object {i}",
                    "stele",
                    "limestone",
                    "Roman, 2nd century",
                    f"Relief of a banquet scene, inscription in Greek, lower left corner broken; number {i}. "
                    * 2,
                    ("stolen", "looted", "missing")[i % 3],
                ]
            )
    return file


def bench_rows(n: int) -> list[str]:
    """Text-only import in a subprocess: wall time and peak RSS, as markdown lines."""
    file = rows_csv(n)
    started = time.perf_counter()
    with file.open(newline="") as f:
        parsed = sum(1 for _ in csv.DictReader(f))
    parse = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        cmd = [sys.executable, "-m", "lootwatch.cli", "--db", f"{tmp}/l.db", "registry", "import", str(file)]
        started, cpu, load = time.perf_counter(), _cpu(), os.getloadavg()[0]
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        took, cpu = time.perf_counter() - started, _cpu() - cpu
    load = f"{load:.1f} to {os.getloadavg()[0]:.1f}"
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = proc.stdout.splitlines()[0] if proc.stdout else proc.stderr[-300:]
    print(f"rows: {n} in {took:.1f} s, peak {peak_mb:.0f} MB; csv alone {parse:.1f} s; {summary}")
    return [
        f"`lootwatch registry import` of {n:,} text-only records ({file.stat().st_size / 1e6:.0f} MB CSV) "
        f"in a subprocess, the match stage included; {_machine()}; load average {load} (a shared machine):",
        "",
        "| | seconds | ratio | peak RSS |",
        "|---|---|---|---|",
        f"| `csv.DictReader` over the file, nothing else (baseline) | {parse:.1f} | 1.0x | |",
        f"| `lootwatch registry import` | {took:.1f} | {took / parse:.1f}x | {peak_mb:.0f} MB |",
        "",
        f"The import used {cpu:.0f} s of CPU. Goal: under 300 s and 300 MB. It printed: `{summary}` "
        f"({parsed:,} rows in the file).",
    ]


def _machine() -> str:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {date.today().isoformat()}, at {rev.stdout.strip()}"
    )


def main() -> None:
    """Run both parts, print them, write them into docs/benchmarks.md."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=10_000, help="distinct photos to import (0: skip)")
    ap.add_argument("--rows", type=int, default=200_000, help="text-only records to import (0: skip)")
    ap.add_argument("--workers", type=int, default=default_workers())
    ap.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    args = ap.parse_args()
    command = "python bench/registry_import.py"
    if args.rows:  # first: its peak RSS is read over every child process waited for so far
        lines = [f"Command: `{command} --photos 0 --rows {args.rows}`", "", *bench_rows(args.rows)]
        print("\n".join(lines))
        if not args.no_write:
            write_section("registry_import.py rows", "Registry import: text-only records", lines)
    if args.photos:
        lines = [
            f"Command: `{command} --photos {args.photos} --rows 0`",
            "",
            *bench_photos(args.photos, args.workers),
        ]
        print("\n".join(lines))
        if not args.no_write:
            write_section("registry_import.py photos", "Registry import: local photos", lines)


if __name__ == "__main__":
    main()

"""Run benchmarks, print their sections and rewrite those sections in bench/RESULTS.md.

    python -m bench                       # every benchmark, full size, results written
    python -m bench locate_points         # one benchmark
    python -m bench --points 200000       # a quick check: printed, RESULTS.md left alone

A benchmark is any module in bench/ with a ``run(settings, points)`` function; adding one needs no
change here. Each owns the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in
RESULTS.md; the rest of the file is kept as it is, so benchmarks can be run and added one at a time.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType

from harmmap.config import Settings, SettingsError
from harmmap.db import DatabaseUnavailable

DEFAULT_POINTS = 1_000_000
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"

HEADER = """\
# HarmMap benchmark results

One section per benchmark in `bench/`, each written by its last full-size run and dated inside.
Reproduce with `make bench` (sets up PostgreSQL, the database and the reference data, then runs
`python -m bench`), or run one benchmark on a database that is already set up:
`python -m bench locate_points`. Quick runs with `--points N` below the default are printed only.

Compare the methods within one section: they ran side by side on the same machine, which is shared
and noisy, so the ratios mean more than the absolute seconds.
"""


def replace_section(text: str, name: str, body: str) -> str:
    """``text`` with the section ``name`` set to ``body`` (appended at the end if it is new)."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + "\n\n" + block if text.strip() else HEADER + "\n" + block


def benchmarks() -> dict[str, ModuleType | Exception]:
    """Every module in bench/ that has a ``run`` function, by name, in alphabetical order.

    A module that fails to import is listed with its error, so it fails alone when run.
    """
    found: dict[str, ModuleType | Exception] = {}
    for info in sorted(pkgutil.iter_modules([str(HERE)]), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"bench.{info.name}")
        except Exception as e:  # noqa: BLE001 -- reported when the benchmark is run
            found[info.name] = e
            continue
        if callable(getattr(module, "run", None)):
            found[info.name] = module
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    known = benchmarks()
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all of {', '.join(known)})")
    parser.add_argument("--points", type=int, default=DEFAULT_POINTS,
                        help="points (or rows) per benchmark (default %(default)s)")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md even for a run below the default size")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if args.points < 1:
        parser.error("--points must be at least 1")
    write = args.write or args.points >= DEFAULT_POINTS

    try:
        settings = Settings.from_env()
    except SettingsError as e:
        print(f"python -m bench: {e}", file=sys.stderr)
        return 2
    failed = []
    for name in args.names or list(known):
        try:
            module = known[name]
            if isinstance(module, Exception):
                raise module
            section = module.run(settings, args.points)
        except (DatabaseUnavailable, LookupError) as e:   # not set up: say how, no traceback
            print(f"python -m bench: {name}: {e}", file=sys.stderr)
            failed.append(name)
            continue
        except Exception:  # one broken benchmark must not hide the others' results
            traceback.print_exc()
            print(f"python -m bench: {name} failed; RESULTS.md keeps its previous section", file=sys.stderr)
            failed.append(name)
            continue
        print(section, flush=True)
        if write:
            text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
            RESULTS.write_text(replace_section(text, name, section), encoding="utf-8")
            print(f"(written to bench/RESULTS.md, section {name})\n")
        else:
            print(f"(a {args.points:,}-point run: bench/RESULTS.md not changed; --write to record it)\n")
    if failed:
        print(f"python -m bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time and peak memory of ``safer synth partners`` at 50,000 and 1,000,000 people.

Each size runs in a process of its own (so its peak memory is its own) into a temporary folder,
and prints wall time, peak resident memory, records written and the size of the output.

    .venv/bin/python bench/synth_partners.py --data ../shared/data [--people 50000 1000000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, run_child  # noqa: E402


def child(people: int, data: Path, out: Path) -> None:
    from safertogether.sources.synth import SynthConfig, generate_partners

    summary = generate_partners(SynthConfig(people=people, seed=1, data=data), out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(json.dumps({"people": people, "seconds": summary.seconds, "peak_rss_mb": peak_rss_mb(),
                      "records": sum(summary.records.values()), "incidents": summary.incidents,
                      "megabytes": size / 1e6}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--people", type=int, nargs="+", default=[50_000, 1_000_000])
    parser.add_argument("--child", nargs=3, metavar=("PEOPLE", "DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), Path(args.child[1]), Path(args.child[2]))
        return
    print(f"{'people':>10} {'seconds':>8} {'peak MB':>8} {'records':>9} {'incidents':>9} {'output MB':>9}")
    for people in args.people:
        with tempfile.TemporaryDirectory() as tmp:
            r = run_child([__file__, "--child", str(people), str(args.data.resolve()), f"{tmp}/out"])
        print(f"{people:>10,} {r['seconds']:>8.1f} {r['peak_rss_mb']:>8,.0f} {r['records']:>9,} "
              f"{r['incidents']:>9,} {r['megabytes']:>9.1f}")


if __name__ == "__main__":
    main()

"""python -m benchmarks [--quick] [--profile] [--out DIR] [--repeats N]

Runs the suite side by side in one process and writes benchmarks/results/latest.md
and latest.json; --quick is a one-minute version; --profile shows where a base
encoder step of tinygrad_tf spends its time.
"""
import os

# PyTorch's OpenMP threads spin while they wait for work. On 2 cores shared with
# NumPy's OpenBLAS threads (and with other processes) that spinning stalls PyTorch
# by up to hundreds of ms per step, so unless told otherwise its threads sleep
# instead. Must be set before torch is imported; the report shows the setting.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402

from . import suite  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no large encoder (~1 min)")
    parser.add_argument("--profile", nargs="?", const="encoder", choices=("encoder", "lm", "chain"),
                        help="where a base encoder step (or an LM step, or the chain) spends its time")
    parser.add_argument("--out", default=suite.RESULTS, help="folder for latest.md and latest.json")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per engine")
    parser.add_argument("--update-readme", action="store_true",
                        help="also copy the table into README.md's Benchmarks section")
    args = parser.parse_args(argv)
    if args.profile:
        from . import profile
        profile.main(args.profile)
        return 0
    report = suite.run("quick" if args.quick else "full", args.out, args.repeats)
    print()
    with open(report["paths"]["latest.md"], encoding="utf-8") as f:
        print(f.read())
    print(f"written: {report['paths']['latest.md']}, {report['paths']['latest.json']}")
    if args.update_readme:
        with open(report["paths"]["latest.md"], encoding="utf-8") as f:
            updated = suite.update_readme(f.read())
        print("README.md updated" if updated else "README.md has no Benchmarks markers: not updated")
    return 0 if report["all_verified"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

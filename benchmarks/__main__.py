"""python -m benchmarks [--quick] [--profile [WHAT]] [--pool] [--bounds] [--only TEXT] [--out DIR]
                       [--repeats N]

Runs the suite side by side in one process and writes benchmarks/results/latest.md
and latest.json; --quick is a one-minute version; --profile shows where a base
encoder step of tinygrad_tf spends its time (--profile encoder-large: the large
one, and how far it is from NumPy's GEMM rate).

PyTorch runs with its defaults. Its OpenMP threads spin while they wait for work;
on a machine whose cores other processes keep busy that spinning can stall a step
by hundreds of ms (such rows are timed again, see harness.quiet_samples).
`OMP_WAIT_POLICY=PASSIVE python -m benchmarks` avoids the stalls but makes
PyTorch's small steps about 2x slower on a quiet machine; the report shows the setting.
"""
import argparse

from . import suite


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no large encoder (~1 min)")
    parser.add_argument("--profile", nargs="?", const="encoder",
                        choices=("encoder", "encoder-large", "lm", "chain", "mlp"),
                        help="where a base encoder step (or the large one, or the lm, chain or mlp step) "
                        "spends its time")
    parser.add_argument("--pool", action="store_true",
                        help="what the elementwise thread pool gains or costs, per op and array size")
    parser.add_argument("--bounds", action="store_true",
                        help="where the LM row's ratio to torch and the MLP row's to hand NumPy come from")
    parser.add_argument("--out", default=suite.RESULTS, help="folder for latest.md and latest.json")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per engine")
    parser.add_argument("--only", metavar="TEXT", help="only the workloads whose name contains TEXT "
                        "(e.g. 'encoder base'); the report then holds just those")
    parser.add_argument("--update-readme", action="store_true",
                        help="also copy the table into README.md's Benchmarks section")
    args = parser.parse_args(argv)
    if args.profile:
        from . import profile
        profile.main(args.profile)
        return 0
    if args.pool:
        from . import pool
        pool.main(args.repeats)
        return 0
    if args.bounds:
        from . import bounds
        bounds.main(args.repeats)
        return 0
    report = suite.run("quick" if args.quick else "full", args.out, args.repeats, only=args.only)
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

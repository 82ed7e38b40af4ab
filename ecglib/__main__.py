"""Command line: ``python -m ecglib run params/demo.yaml`` runs the notebooks and builds the book."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ecglib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="execute the run's notebooks with papermill, then build the book"
    )
    run.add_argument("params", help="params YAML, e.g. params/demo.yaml")
    run.add_argument("--no-book", action="store_true", help="execute the notebooks only")
    run.add_argument(
        "--force", action="store_true", help="re-execute notebooks that are up to date"
    )
    run.add_argument(
        "--variants",
        action="store_true",
        help="also train every fold of every run variant (the params file's variants:) after "
        "the run's own folds, before the chapters that compare them",
    )
    run.add_argument(
        "--root",
        default=None,
        help="build the book in this folder (a staged copy of the book's sources) "
        "instead of the repository",
    )
    sub.add_parser("book", help="build the HTML book from the executed notebooks")
    scan = sub.add_parser(
        "scan-book",
        help="look for the cohort's identifiers in the built book (exit status 1 if any is found)",
    )
    scan.add_argument(
        "params", help="the params YAML of the run whose export holds the identifiers"
    )
    scan.add_argument("--html", default="_build/html", help="the built book (default _build/html)")
    demo = sub.add_parser("demo", help="write the synthetic demo export")
    demo.add_argument("out_dir")
    demo.add_argument("--size", choices=("small", "medium", "paper"), default="small")
    demo.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from ecglib.report import pipeline

    if args.command == "run":
        root = pipeline.PROJECT_ROOT if args.root is None else args.root
        print(
            pipeline.run(
                args.params,
                build=not args.no_book,
                force=args.force,
                root=root,
                variants=args.variants,
            )
        )
    elif args.command == "book":
        print(pipeline.build_book())
    elif args.command == "scan-book":
        from ecglib.config import load_params
        from ecglib.report.privacy import run_identifiers, scan_identifiers

        identifiers = run_identifiers(load_params(args.params))
        hits = scan_identifiers(args.html, identifiers)
        n = sum(len(v) for v in identifiers.values())
        if hits.empty:
            print(f"{args.html}: none of the cohort's {n:,} identifying strings found")
        else:
            print(hits.to_string(index=False))
            raise SystemExit(
                f"{args.html}: identifying strings found in {hits['file'].nunique()} file(s)"
            )
    elif args.command == "demo":
        from ecglib.demo import write_demo_export

        print(write_demo_export(args.out_dir, size=args.size, seed=args.seed))


if __name__ == "__main__":
    main()

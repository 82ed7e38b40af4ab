"""Command line: ``python -m ecglib run params/demo.yaml`` runs the notebooks and builds the book."""
from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ecglib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute the run's notebooks with papermill, then build the book")
    run.add_argument("params", help="params YAML, e.g. params/demo.yaml")
    run.add_argument("--no-book", action="store_true", help="execute the notebooks only")
    run.add_argument("--force", action="store_true", help="re-execute notebooks that are up to date")
    sub.add_parser("book", help="build the HTML book from the executed notebooks")
    demo = sub.add_parser("demo", help="write the synthetic demo export")
    demo.add_argument("out_dir")
    demo.add_argument("--size", choices=("small", "paper"), default="small")
    demo.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from . import pipeline
    if args.command == "run":
        pipeline.run(args.params, build=not args.no_book, force=args.force)
    elif args.command == "book":
        print(pipeline.build_book())
    elif args.command == "demo":
        from .demo import write_demo_export
        print(write_demo_export(args.out_dir, size=args.size, seed=args.seed))


if __name__ == "__main__":
    main()

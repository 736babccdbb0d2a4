"""python -m viz DUMP [-o report.html]: DUMP is a dump's JSON file or a folder of dumps."""
from __future__ import annotations

import argparse
from pathlib import Path

from .report import write_report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m viz", description=__doc__)
    parser.add_argument("dump", type=Path, help="a graph dump's .json file, or a folder of them")
    parser.add_argument("-o", "--output", type=Path, default=Path("report.html"))
    args = parser.parse_args()
    print(write_report(args.dump, args.output))


if __name__ == "__main__":
    main()

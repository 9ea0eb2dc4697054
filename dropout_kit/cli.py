"""`dropout-kit`: the kit's commands for instructors (nbgrader's own commands do the rest)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dropout_kit import settings
from dropout_kit.commands import nbgrader


def course_root(path: str | None) -> Path:
    root = Path(path or ".").resolve()
    if not (root / "nbgrader_config.py").is_file():
        sys.exit(f"{root} is not a course directory (no nbgrader_config.py); use --course")
    return root


def cmd_release(args) -> int:
    """Regenerates release/ from source/ with nbgrader generate_assignment."""
    root = course_root(args.course)
    nbgrader("generate_assignment", settings.ASSIGNMENT, "--force", cwd=root)
    print(f"release/{settings.ASSIGNMENT}/ regenerated from source/{settings.ASSIGNMENT}/")
    return 0


def cmd_demo(args) -> int:
    """A whole grading round on sample submissions, in build/demo/."""
    from dropout_kit import demo
    return demo.main(course_root(args.course))


COMMANDS = {"release": cmd_release, "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dropout-kit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn in COMMANDS.items():
        p = sub.add_parser(name, help=fn.__doc__)
        p.add_argument("--course", help="course directory (default: current directory)")
    args = parser.parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

"""`dropout-kit`: the kit's commands for instructors (nbgrader's own commands do the rest)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dropout_kit.assignment import Assignment, AssignmentNotFound, find_assignment
from dropout_kit.harness.commands import nbgrader


def course_root(path: str | None) -> Path:
    """--course; else the current directory if it is a course; else the course nbgrader's own
    commands find from here (e.g. an instructor's ~/.jupyter/nbgrader_config.py that loads
    ~/course/nbgrader_config.py, as on the hub): `dropout-kit on-submission pause` works
    wherever `nbgrader autograde` does."""
    root = Path(path or ".").resolve()
    if path is None and not (root / "nbgrader_config.py").is_file():
        root = configured_course_root() or root
    if not (root / "nbgrader_config.py").is_file():
        sys.exit(f"{root} is not a course directory (no nbgrader_config.py); use --course")
    return root


def configured_course_root() -> Path | None:
    """CourseDirectory.root as nbgrader's commands read their configuration here."""
    from nbgrader.apps.baseapp import NbGrader

    from dropout_kit.classroom.course_paths import environment_kept
    with environment_kept():
        app = NbGrader()
        app.initialize([])
    configured = Path(app.coursedir.root).resolve()
    return configured if configured != Path.cwd().resolve() else None


def chosen_assignment(args) -> Assignment:
    try:
        return find_assignment(course_root(args.course), args.assignment)
    except AssignmentNotFound as problem:
        sys.exit(f"dropout-kit {args.command}: {problem}")


def cmd_release(args) -> int:
    """Regenerates release/ from source/ with nbgrader generate_assignment."""
    assignment = chosen_assignment(args)
    nbgrader("generate_assignment", assignment.name, "--force", cwd=assignment.course_root)
    print(f"release/{assignment.name}/ regenerated from source/{assignment.name}/")
    return 0


def cmd_demo(args) -> int:
    """A whole grading round on sample submissions, in build/demo/."""
    from dropout_kit.harness import demo
    return demo.main(course_root(args.course), chosen_assignment(args).name)


def cmd_grade(args) -> int:
    """Autogrades every collected submission in parallel (Dask); re-running grades only what changed."""
    from dropout_kit.cluster.connect import SchedulerUnreachable, probe_scheduler, scheduler_address
    assignment = chosen_assignment(args)
    scheduler = scheduler_address(args.scheduler)
    try:
        if scheduler:
            probe_scheduler(scheduler)  # a wrong address is reported before the slow imports below
    except SchedulerUnreachable as failure:
        print(f"dropout-kit grade: {failure}", file=sys.stderr)
        return 2
    from dropout_kit.classroom.grade_class import grade_class
    from dropout_kit.process_exit import stop_on_sigterm
    stop_on_sigterm()  # as Ctrl-C: what finished is recorded, the round's folders removed
    try:
        run = grade_class(assignment.course_root, assignment.name, workers=args.workers, force=args.force,
                          scheduler=scheduler)
    except grading_stops() as failure:
        print(f"dropout-kit grade: {failure}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dropout-kit grade: stopped. The submissions graded so far are recorded; "
              "run the same command again to grade the rest.", file=sys.stderr)
        return 130
    return 1 if run.failed else 0


def grading_stops() -> tuple[type[Exception], ...]:
    """What stops a grading round before or while it grades, with a message for the instructor."""
    from dropout_kit.cluster.connect import SchedulerUnreachable
    from dropout_kit.cluster.memory import NotEnoughMemory
    from dropout_kit.cluster.payload import WorkerMismatch
    from dropout_kit.engine.canary import CanaryFailed
    return CanaryFailed, NotEnoughMemory, SchedulerUnreachable, WorkerMismatch


def _grade_arguments(parser) -> None:
    parser.add_argument("--workers", type=int, default=None,
                        help="grading processes of the local cluster (default: the number of cores, fewer if the machine's memory cannot hold their kernels)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="grade on this Dask cluster instead, e.g. tcp://10.0.0.5:8786 "
                             "(default: $DASK_SCHEDULER_ADDRESS, else a local cluster)")
    parser.add_argument("--force", action="store_true",
                        help="regrade every submission, changed or not")


def cmd_report(args) -> int:
    """Writes the instructor report (HTML page with plots, CSV) from the gradebook."""
    from dropout_kit.classroom import report
    assignment = chosen_assignment(args)
    page = report.write_report(assignment, Path(args.out) if args.out else None)
    print(f"Report: {page}")
    notice = report.refused_submissions_notice(assignment)
    if notice:
        print(notice)
    return 0


def _report_arguments(parser) -> None:
    parser.add_argument("--out", help="folder for the report (default: reports/<assignment>/ in the course)")


def cmd_on_submission(args) -> int:
    """Grading on submission (run the service; status, pause, resume, regrade-all)."""
    from dropout_kit.on_submission import commands
    if args.action == "run":
        commands.wait_for_course(Path(args.course or "."), args.assignment)
    return commands.main(chosen_assignment(args), args.action)


def _on_submission_arguments(parser) -> None:
    from dropout_kit.on_submission.commands import ACTIONS
    parser.add_argument("action", choices=ACTIONS, help="run: the service itself (as the instructor)")


def cmd_audit(args) -> int:
    """How strong are the hidden checks? Mutation analysis in a scratch copy of the course (never in its gradebook)."""
    from dropout_kit.audit import report
    from dropout_kit.audit.run import AuditStopped, audit, default_folder
    from dropout_kit.cluster.connect import scheduler_address
    from dropout_kit.process_exit import stop_on_sigterm
    assignment = chosen_assignment(args)
    folder = Path(args.out).resolve() if args.out else default_folder(assignment)
    stop_on_sigterm()
    try:
        result = audit(assignment, per_part=args.per_part, seed=args.seed, parts=args.part, only=args.mutant,
                       workers=args.workers, scheduler=scheduler_address(args.scheduler), folder=folder)
    except (AuditStopped, *grading_stops()) as failure:
        print(f"dropout-kit audit: {failure}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dropout-kit audit: stopped. The mutants graded so far are kept; run the same command "
              "again to grade the rest.", file=sys.stderr)
        return 130
    page = report.write_report(result, folder)
    survivors = report.export_survivors(result, folder / "survivors.json")
    print(report.summary_text(result))
    print(f"Report: {page}\nSurvivors as corpus entries: {survivors}")
    return 0


def _audit_arguments(parser) -> None:
    parser.add_argument("--workers", type=int, default=None,
                        help="grading processes of the local cluster (default: the number of cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="grade on this Dask cluster instead")
    parser.add_argument("--per-part", type=int, default=20, metavar="N",
                        help="mutants graded per automatically graded part: the operators take turns, each "
                             "drawing uniformly from its candidates (default: 20)")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default: 0)")
    parser.add_argument("--part", action="append", metavar="GRADE_ID", help="audit only this part (repeatable)")
    parser.add_argument("--mutant", action="append", metavar="ID", help="grade only this mutant (repeatable)")
    parser.add_argument("--out", help="folder of the audit (default: reports/<assignment>/audit/ in the course)")


cmd_grade.arguments = _grade_arguments
cmd_audit.arguments = _audit_arguments
cmd_report.arguments = _report_arguments
cmd_on_submission.arguments = _on_submission_arguments
COMMANDS = {"release": cmd_release, "demo": cmd_demo, "grade": cmd_grade, "report": cmd_report,
            "on-submission": cmd_on_submission, "audit": cmd_audit}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dropout-kit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn in COMMANDS.items():
        p = sub.add_parser(name, help=fn.__doc__)
        p.add_argument("--course", help="course directory (default: the current directory, or the "
                                        "course nbgrader's configuration names from here)")
        p.add_argument("--assignment", help="assignment name (default: the only one in source/)")
        if hasattr(fn, "arguments"):
            fn.arguments(p)
    args = parser.parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

"""The main job: a whole grading round on a small class of sample submissions.

A scratch course (build/demo/course) gets the repository's config, source and hidden
checks; nbgrader releases the assignment to a local exchange, each sample student
fetches and submits, then nbgrader collects, autogrades and writes feedback. The
repository's own course folders are not touched.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from dropout_kit.assignment import Assignment, find_assignment
from dropout_kit.classroom import gradebook
from dropout_kit.harness import samples
from dropout_kit.harness.course import Course, copy_course


def run(repo_root: Path, workdir: Path, assignment_name: str | None = None) -> tuple[Course, Assignment]:
    if workdir.exists():
        shutil.rmtree(workdir)
    root = copy_course(repo_root, workdir / "course")
    assignment = find_assignment(root, assignment_name)
    course = Course(root, workdir / "exchange", assignment.name)
    course.release()
    for student_id, answers in samples.sample_class(assignment).items():
        notebook = None if answers is None else samples.assemble(assignment.release_notebook, answers)
        course.hand_in(student_id, workdir / "home" / student_id, notebook)
    course.grade()
    return course, assignment


def score_table(course: Course, assignment: Assignment) -> str:
    grades = gradebook.cell_grades(course.db_url, assignment.name)
    parts = list(assignment.parts)
    header = ["student", *parts, "auto", "manual", "feedback"]
    rows = []
    for student_id in sorted(grades):
        cells = grades[student_id]
        scores = gradebook.part_scores(cells, assignment)
        maxima = gradebook.part_maxima(cells, assignment)
        manual = [c for c in assignment.manual_cells if c in cells and cells[c].needs_manual_grade]
        rows.append([student_id, *(f"{scores[p]:g}/{maxima[p]:g}" for p in parts),
                     f"{sum(scores.values()):g}/{sum(maxima.values()):g}",
                     "pending" if manual else "done",
                     str(course.feedback_file(student_id))])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(repo_root: Path, assignment_name: str | None = None) -> int:
    started = time.perf_counter()
    workdir = repo_root / "build" / "demo"
    print(f"Grading round in {workdir} (release → fetch → submit → collect → autograde → feedback)")
    course, assignment = run(repo_root, workdir, assignment_name)
    print()
    print(score_table(course, assignment))
    print()
    print(f"Gradebook: {course.root / 'gradebook.db'}")
    print(f"Done in {time.perf_counter() - started:.0f} s. Hand-graded cells "
          f"({', '.join(assignment.manual_cells)}) wait in the formgrader.")
    return 0

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

from dropout_kit import gradebook, samples
from dropout_kit.course import Course, copy_course


def run(repo_root: Path, workdir: Path) -> Course:
    if workdir.exists():
        shutil.rmtree(workdir)
    course = Course(copy_course(repo_root, workdir / "course"), workdir / "exchange")
    course.release()
    release = samples.release_notebook(course.root)
    for student_id, answers in samples.sample_class(course.root).items():
        notebook = None if answers is None else samples.assemble(release, answers)
        course.hand_in(student_id, workdir / "home" / student_id, notebook)
    course.grade()
    return course


def score_table(course: Course) -> str:
    grades = gradebook.cell_grades(course.db_url)
    parts = list(gradebook.AUTO_PARTS)
    header = ["student", *parts, "auto", "manual", "feedback"]
    rows = []
    for student_id in sorted(grades):
        cells = grades[student_id]
        scores = gradebook.part_scores(cells)
        maxima = {p: sum(cells[c].max_score for c in ids if c in cells) for p, ids in gradebook.AUTO_PARTS.items()}
        manual = [c for c in gradebook.MANUAL_PARTS if c in cells and cells[c].needs_manual_grade]
        rows.append([student_id, *(f"{scores[p]:g}/{maxima[p]:g}" for p in parts),
                     f"{sum(scores.values()):g}/{sum(maxima.values()):g}",
                     "pending" if manual else "done",
                     str(course.feedback_file(student_id))])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(repo_root: Path) -> int:
    started = time.perf_counter()
    workdir = repo_root / "build" / "demo"
    print(f"Grading round in {workdir} (release → fetch → submit → collect → autograde → feedback)")
    course = run(repo_root, workdir)
    print()
    print(score_table(course))
    print()
    print(f"Gradebook: {course.root / 'gradebook.db'}")
    print(f"Done in {time.perf_counter() - started:.0f} s. Hand-graded cells (plot_modes, why_dropout) "
          "wait in the formgrader.")
    return 0

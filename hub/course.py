"""The course on the hub: hub-wide settings, the exchange, the instructor's course
folder (a copy of this repository's course files) and the released assignment."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from users import Person

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ETC = HERE / "etc"
EXCHANGE = Path("/srv/nbgrader/exchange")
LOGIN_PROFILE = Path("/etc/profile.d/dropout-kit-hub.sh")
COURSE_ID = "dl-dropout"
ASSIGNMENT = "dropout"
# What the instructor's course folder holds: the course, never the kit's tests.
COURSE_FILES = ["nbgrader_config.py", "source", "release", "grader_tests"]
MPL_MARK = "## set by dropout-kit hub/course.py"
# The demo course grades its assignment on submission (README: "Grading on submission").
ON_SUBMISSION = f"""
# make hub: the assignment is graded as soon as a student submits.
c.GradeOnSubmission.assignments = [{ASSIGNMENT!r}]
"""


def delegate_kernel_cgroups(instructor: Person) -> None:
    """Grading kernels in cgroups of their own (dropout_kit.engine.kernel_cgroup): the
    instructor's grading service may make them under `dropout-kit`, handed over here by root."""
    from dropout_kit.engine.kernel_cgroup import delegate
    try:
        delegate("dropout-kit", instructor.user)
    except OSError as problem:  # grading goes on without, and says so in its log
        print(f"kernel cgroups not delegated to {instructor.user}: {problem}", file=sys.stderr)


def on_submission_setting(instructor: Person) -> str:
    """DROPOUT_HUB_GRADE_ON_SUBMISSION for hub/jupyterhub_config.py."""
    return f"{instructor.user}:{instructor.home / 'course'}:{ASSIGNMENT}"


def install_hub_settings(prefix: Path) -> None:
    """Settings every server of the hub reads from its Python environment, and the login
    shells' PATH."""
    jupyter_etc = prefix / "etc" / "jupyter"
    jupyter_etc.mkdir(parents=True, exist_ok=True)
    shutil.copy(ETC / "nbgrader_config.py", jupyter_etc / "nbgrader_config.py")
    # JupyterLab asks nobody about Jupyter's news (no network for it either).
    lab_settings = prefix / "share" / "jupyter" / "lab" / "settings"
    lab_settings.mkdir(parents=True, exist_ok=True)
    shutil.copy(ETC / "lab_overrides.json", lab_settings / "overrides.json")
    # Nbgrader → Formgrader in JupyterLab's menu opens the formgrader in a frame, which the
    # servers' frame-ancestors 'none' keeps blank (README: known problems): gone for
    # everybody; the instructor opens the formgrader in its own tab (printed by make hub).
    labconfig = prefix / "etc" / "jupyter" / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    shutil.copy(ETC / "page_config.json", labconfig / "page_config.json")
    set_plot_font(prefix)
    install_login_profile(prefix)


def install_login_profile(prefix: Path) -> None:
    """The hub's environment on PATH in every login shell (JupyterLab's terminals), so that
    `dropout-kit` and `nbgrader` work there as the README types them."""
    LOGIN_PROFILE.write_text((ETC / "profile.sh").read_text().replace("@PREFIX@", str(prefix)))
    LOGIN_PROFILE.chmod(0o644)


def remove_login_profile() -> None:
    LOGIN_PROFILE.unlink(missing_ok=True)


def set_plot_font(prefix: Path) -> None:
    """Hangul in plots for every kernel of the environment, sandboxed grading kernels too
    (they get a scrubbed environment, so MATPLOTLIBRC would not reach them): the keys of
    hub/etc/matplotlibrc become the environment's defaults, edited in place in
    matplotlib's own matplotlibrc (matplotlib reads that file's commented lines as its
    defaults, so an appended copy of a key would be a duplicate; DejaVu Sans stays first,
    missing glyphs fall back to Noto Sans CJK KR)."""
    rc_path = Path(run_python(prefix, "import matplotlib; print(matplotlib.matplotlib_fname())"))
    lines = rc_path.read_text().splitlines()
    for setting in (ETC / "matplotlibrc").read_text().splitlines():
        key = setting.split(":", 1)[0].strip()
        pattern = re.compile(rf"^#?{re.escape(key)}\s*:")
        hits = [i for i, line in enumerate(lines) if pattern.match(line)]
        if len(hits) != 1:
            sys.exit(f"{rc_path}: expected one line for {key}, found {len(hits)}")
        lines[hits[0]] = f"{setting}  {MPL_MARK}"
    rc_path.write_text("\n".join(lines) + "\n")


def run_python(prefix: Path, code: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "MPLCONFIGDIR": "/tmp/.mpl-probe"}
    return subprocess.run([str(prefix / "bin" / "python"), "-I", "-c", code], env=env,
                          capture_output=True, text=True, check=True).stdout.strip()


def prepare_exchange() -> None:
    """/srv/nbgrader/exchange, writable by everybody, sticky (nobody renames or removes
    another user's folder), and no course folder left from an earlier run."""
    EXCHANGE.mkdir(parents=True, exist_ok=True)
    os.chmod(EXCHANGE, 0o1777)
    remove_course_exchange()


def remove_course_exchange() -> None:
    shutil.rmtree(EXCHANGE / COURSE_ID, ignore_errors=True)


def as_user(person: Person, args: list[str], cwd: Path, prefix: Path, timeout: float = 120):
    """Run a command as `person` (their uid, gid and home), like their own terminal."""
    env = {
        "HOME": str(person.home), "USER": person.user, "LOGNAME": person.user,
        "PATH": f"{prefix / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8",
    }
    return subprocess.run(args, cwd=cwd, env=env, user=person.uid, group=person.gid,
                          extra_groups=[], capture_output=True, text=True, timeout=timeout)


def write_as(person: Person, path: Path, text: str) -> None:
    """A file in the person's home, owned by them, with the folders made for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    for made in [path, *path.relative_to(person.home).parents]:
        os.chown(person.home / made, person.uid, person.gid)


# The demo class's names, in the order of the students (Korean, as the formgrader shows).
NAMES = [("민준", "김"), ("서연", "이"), ("지호", "박"), ("하은", "최"), ("도윤", "정")]


def set_up_instructor(person: Person, prefix: Path, students: list[Person]) -> Path:
    """~/course (the course, owned by the instructor) and ~/.jupyter/nbgrader_config.py;
    the class list imported, the assignment generated and released, from the instructor's
    account."""
    course = person.home / "course"
    course.mkdir()
    for name in COURSE_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, course / name,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy(src, course / name)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(ON_SUBMISSION)
    chown_tree(course, person)
    write_as(person, person.home / ".jupyter" / "nbgrader_config.py",
             (ETC / "instructor_nbgrader_config.py").read_text())
    roster = course / "students.csv"
    roster.write_text("id,first_name,last_name\n" + "".join(
        f"{s.user},{first},{last}\n" for s, (first, last) in zip(students, NAMES * 100)))
    os.chown(roster, person.uid, person.gid)
    for step in (["db", "student", "import", roster.name],
                 ["generate_assignment", ASSIGNMENT, "--force"],
                 ["release_assignment", ASSIGNMENT]):
        done = as_user(person, [str(prefix / "bin" / "nbgrader"), *step], course, prefix)
        if done.returncode != 0:
            sys.exit(f"nbgrader {step[0]} failed as {person.user}:\n{done.stdout}{done.stderr}")
    return course


def set_up_student(person: Person) -> None:
    """A student's JupyterLab without the instructor's tools (formgrader, create
    assignment): nbgrader's documented per-user switches."""
    jupyter = person.home / ".jupyter"
    write_as(person, jupyter / "labconfig" / "page_config.json",
             (ETC / "student_page_config.json").read_text())
    write_as(person, jupyter / "jupyter_server_config.json",
             (ETC / "student_server_config.json").read_text())


def chown_tree(root: Path, person: Person) -> None:
    os.chown(root, person.uid, person.gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), person.uid, person.gid)

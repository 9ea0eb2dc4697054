"""The audit's candidate mutants (dropout_kit.audit.mutants): only solution regions of
automatically graded parts, one change each, formatting and positions kept, deterministic."""
from __future__ import annotations

import difflib
import re
from pathlib import Path

import dropout_assignment as dropout
import nbformat
import pytest

from dropout_kit.assignment import Assignment
from dropout_kit.audit import mutants
from dropout_kit.audit.results import Mutant
from dropout_kit.harness import samples

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def found() -> dict[str, list[Mutant]]:
    return mutants.candidates(dropout.DROPOUT)


def all_of(found: dict[str, list[Mutant]]) -> list[Mutant]:
    return [m for part_mutants in found.values() for m in part_mutants]


def changed_original_lines(mutant: Mutant) -> set[int]:
    """The 1-based lines of `original` that the mutant replaces or deletes (or inserts before)."""
    matcher = difflib.SequenceMatcher(None, mutant.original.split("\n"), mutant.source.split("\n"), autojunk=False)
    lines = set()
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag != "equal":
            lines |= set(range(i1 + 1, i2 + 1)) or {i1 + 1}
    return lines


def hunks(mutant: Mutant) -> int:
    return sum(line.startswith("@@") for line in mutant.diff().splitlines())


def make_assignment(course_root: Path, solutions: list[str], name: str = "toy") -> Assignment:
    """A course with one notebook: given imports, then each solution cell followed by its
    autograder cell (parts p1, p2, ...), then a hand-graded answer."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import torch\nimport numpy as np", metadata={
        "nbgrader": {"grade": False, "grade_id": "imports", "locked": True, "solution": False,
                     "schema_version": 3, "task": False}}))
    for n, source in enumerate(solutions, 1):
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={
            "nbgrader": {"grade": False, "grade_id": f"p{n}", "locked": False, "solution": True,
                         "schema_version": 3, "task": False}}))
        nb.cells.append(nbformat.v4.new_code_cell(f'grade("test_p{n}")', metadata={
            "nbgrader": {"grade": True, "grade_id": f"test_p{n}", "locked": True, "solution": False,
                         "points": 1, "schema_version": 3, "task": False}}))
    nb.cells.append(nbformat.v4.new_code_cell("### BEGIN SOLUTION\nz = y + 1\n### END SOLUTION", metadata={
        "nbgrader": {"grade": True, "grade_id": "by_hand", "locked": False, "solution": True,
                     "points": 1, "schema_version": 3, "task": False}}))
    path = course_root / "source" / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return Assignment(name, course_root)


# --- the real assignment

def test_only_automatically_graded_parts_in_notebook_order(found):
    assert list(found) == list(dropout.AUTO_PARTS) == ["split", "my_dropout", "dropout_net", "eval_predict"]
    assert not set(found) & {"plot_modes", "why_dropout"}
    assert all(found.values())


def test_originals_are_the_reference_answers(found):
    reference = samples.reference_answers(dropout.source_notebook(REPO))
    for part, part_mutants in found.items():
        assert {m.original for m in part_mutants} == {reference[part]}
        assert {m.part for m in part_mutants} == {part}


def test_every_mutant_compiles_and_makes_one_new_change(found):
    for part, part_mutants in found.items():
        sources = [m.source for m in part_mutants]
        assert len(set(sources)) == len(sources), part
        for mutant in part_mutants:
            assert mutant.source != mutant.original
            compile(mutant.source, mutant.id, "exec")
            assert hunks(mutant) == 1, mutant.diff()
            assert mutant.line in changed_original_lines(mutant), mutant.id
            assert mutant.description


def test_given_code_outside_the_markers_is_never_mutated(found):
    for part_mutants in found.values():
        for mutant in part_mutants:
            _, region = mutants.solution_region(mutant.original)  # no markers left: all lines
            assert changed_original_lines(mutant) <= region
    for mutant in found["dropout_net"]:
        assert mutant.source.split("\n")[0] == "torch.manual_seed(1)"
    for mutant in found["my_dropout"]:
        assert mutant.source.split("\n")[0] == "def my_dropout(x, p, training=True):"


def test_solution_lines_of_the_real_cells():
    nb = nbformat.read(dropout.source_notebook(REPO), as_version=4)
    regions = {cell.metadata["nbgrader"]["grade_id"]: mutants.solution_region(cell.source)
               for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("solution")}
    reference = samples.reference_answers(dropout.source_notebook(REPO))
    assert {part: answer for part, (answer, _) in regions.items()} == reference
    assert regions["my_dropout"][1] == {2, 3, 4, 5}
    assert regions["dropout_net"][1] == set(range(2, 15))
    assert regions["split"][1] == {1, 2}


@pytest.mark.parametrize("part, operator, description", [
    ("split", "slice", "`x[:80]` → `x[:79]`"),
    ("split", "slice", "`y[80:]` → `y[:]`"),
    ("split", "name", "`x` → `y`"),
    ("split", "number", "`x[:80]` → `x[:40]`"),
    ("my_dropout", "compare", "`>=` → `>`"),
    ("my_dropout", "arithmetic", "`/` → `*`"),
    ("my_dropout", "boolean", "`not training` → `training`"),
    ("my_dropout", "name", "`p` → `x`"),
    ("my_dropout", "call", "removed `.clone()`"),
    ("my_dropout", "call", "removed `.to(x.dtype)`"),
    ("my_dropout", "statement", "deleted `return x.clone()`"),
    ("dropout_net", "statement", "deleted `optimizr.zero_grad()`"),
    ("dropout_net", "statement", "deleted `loss.backward()`"),
    ("dropout_net", "number", "`1000` → `1001`"),
    ("dropout_net", "number", "`0.8` → `0.4`"),
    ("dropout_net", "name", "`xtr` → `xtest`"),
    ("dropout_net", "name", "`ytr` → `ytest`"),
    ("dropout_net", "argument", "removed argument `net.parameters()`"),
    ("dropout_net", "argument", "removed argument `torch.nn.Dropout(0.8)`"),
    ("dropout_net", "argument", "swapped `net(xtr)` and `ytr`"),
    ("eval_predict", "statement", "deleted `net.eval()`"),
    ("eval_predict", "statement", "removed `with torch.no_grad():`"),
    ("eval_predict", "call", "removed `.item()`"),
])
def test_expected_mutant_exists(found, part, operator, description):
    matching = [m for m in found[part] if m.operator == operator and m.description == description]
    assert matching, [m.description for m in found[part] if m.operator == operator]


@pytest.mark.parametrize("part, before, after", [
    ("split", "xtr, ytr = x[:80], y[:80]", "xtr, ytr = x[:79], y[:80]"),
    ("dropout_net", "    loss = loss_fn(net(xtr), ytr)", "    loss = loss_fn(ytr, net(xtr))"),
    ("dropout_net", "    optimizr.zero_grad()", "    pass"),
    ("my_dropout", "    mask = (torch.rand_like(x) >= p).to(x.dtype)", "    mask = (torch.rand_like(x) >= p)"),
    ("eval_predict", "net.eval()", "pass"),
])
def test_a_mutant_changes_exactly_that_line(found, part, before, after):
    original = found[part][0].original
    assert any(m.source == original.replace(before, after, 1) for m in found[part])


def test_with_context_removed_and_its_body_dedented(found):
    [mutant] = [m for m in found["eval_predict"] if m.description == "removed `with torch.no_grad():`"]
    assert mutant.source == ("net.eval()\nyhat_test = net(xtest)\nmse_eval = loss_fn(yhat_test, ytest).item()")
    assert mutant.line == 2


def test_given_code_hand_graded_parts_and_modules_are_left_alone(found):
    descriptions = " ".join(m.description for m in all_of(found))
    assert "manual_seed" not in descriptions
    assert "`torch` →" not in descriptions and "→ `torch`" not in descriptions
    assert "→ `range`" not in descriptions and "→ `net`" not in descriptions  # builtins, models


def test_ids_count_within_part_and_operator(found):
    for part, part_mutants in found.items():
        for operator in mutants.OPERATORS:
            ids = [m.id for m in part_mutants if m.operator == operator]
            assert ids == [f"{part}-{operator}-{n}" for n in range(1, len(ids) + 1)]
        order = list(mutants.OPERATORS)
        assert [order.index(m.operator) for m in part_mutants] == sorted(order.index(m.operator) for m in part_mutants)


def test_candidates_are_deterministic(found):
    again = mutants.candidates(dropout.DROPOUT)
    assert again == found


def test_counts_list_every_operator(found):
    counted = mutants.counts(found)
    assert list(counted) == list(found)
    for part, by_operator in counted.items():
        assert list(by_operator) == list(mutants.OPERATORS)
        assert sum(by_operator.values()) == len(found[part])
    assert counted["eval_predict"]["number"] == 0


@pytest.mark.parametrize("by_operator", [True, False])
def test_sample_size_order_and_seed(found, by_operator):
    chosen = mutants.sample(found, per_part=20, seed=0, by_operator=by_operator)
    assert list(chosen) == list(found)
    for part, part_mutants in chosen.items():
        assert len(part_mutants) == min(20, len(found[part]))
        positions = [found[part].index(m) for m in part_mutants]
        assert positions == sorted(positions)  # candidate order
    assert chosen == mutants.sample(found, per_part=20, seed=0, by_operator=by_operator)
    assert mutants.sample(found, per_part=20, seed=1, by_operator=by_operator)["dropout_net"] != chosen["dropout_net"]
    assert mutants.sample(found, per_part=1000, seed=3, by_operator=by_operator) == found


def test_operators_take_turns_in_the_sample(found):
    """An operator with candidates left is never drawn two fewer times than another."""
    for part, chosen in mutants.sample(found, per_part=20, seed=0).items():
        available = mutants.counts(found)[part]
        drawn = {op: sum(m.operator == op for m in chosen) for op in mutants.OPERATORS if available[op]}
        left = [count for op, count in drawn.items() if count < available[op]]
        assert left and max(drawn.values()) - min(left) <= 1, (part, drawn)
    statements = [m.description for m in mutants.sample(found, per_part=20, seed=0)["eval_predict"]
                  if m.operator == "statement"]
    assert statements, "a statement deletion is drawn in every part that has one"


def test_operators_are_described():
    assert list(mutants.OPERATORS)[:2] == ["slice", "number"]  # a bound's ±1 is a slice mutant
    assert {"number", "arithmetic", "compare", "boolean", "slice", "name", "statement", "call",
            "argument"} <= set(mutants.OPERATORS)
    assert all(isinstance(text, str) and text for text in mutants.OPERATORS.values())


def test_second_assignment(repo_root):
    found = mutants.candidates(Assignment("activation", repo_root / "tests" / "second_assignment"))
    assert list(found) == ["relu", "leaky_relu"]
    assert any(m.description == "`>` → `>=`" for m in found["leaky_relu"])
    for mutant in all_of(found):
        assert mutant.source.split("\n")[0].startswith("def ")  # the given signature stays


# --- formatting, UTF-8 positions, odd cells (small notebooks built here)

COMMENTED = '''\
def scale(x, p):
    """Keep a fraction 1 - p of x, scaled up."""
    ### BEGIN SOLUTION
    # 마스크: 살아남는 원소
    keep = torch.rand_like(x) > p  # 남길 원소
    with torch.no_grad():
        # 나눗셈으로 보정
        out = x * keep / (1 - p)
    return out
    ### END SOLUTION'''

HANGUL = '''\
### BEGIN SOLUTION
라벨 = "한글 데이터"; 학습 = x[:80]  # 주석: 앞의 80개
시험 = x[80:]
평균 = float(학습.mean() - 2)
### END SOLUTION'''


@pytest.fixture
def toy(tmp_path) -> dict[str, list[Mutant]]:
    x = "x = torch.linspace(0, 1, 100)\n"
    return mutants.candidates(make_assignment(tmp_path, [COMMENTED, x + HANGUL]))


def test_comments_and_docstring_survive(toy):
    assert list(toy) == ["p1", "p2"]  # not the hand-graded `by_hand`
    for mutant in toy["p1"]:
        assert '    """Keep a fraction 1 - p of x, scaled up."""' in mutant.source
        assert "    # 마스크: 살아남는 원소" in mutant.source
        assert "# 남길 원소" in mutant.source
        assert "# 나눗셈으로 보정" in mutant.source
        assert hunks(mutant) == 1
    assert not [m for m in toy["p1"] if "1 - p of x" in m.description]  # the docstring is given code


def test_with_removed_keeps_the_comment_above_its_body(toy):
    [mutant] = [m for m in toy["p1"] if m.description == "removed `with torch.no_grad():`"]
    assert "    # 나눗셈으로 보정\n    out = x * keep / (1 - p)\n    return out" in mutant.source
    compile(mutant.source, "with", "exec")


def test_utf8_columns_do_not_shift_positions(toy):
    for mutant in toy["p2"]:
        compile(mutant.source, mutant.id, "exec")
        assert hunks(mutant) == 1
        assert mutant.source.split("\n")[0] == "x = torch.linspace(0, 1, 100)"
    descriptions = {m.description: m for m in toy["p2"]}
    slice_mutant = descriptions["`x[:80]` → `x[:79]`"]
    assert slice_mutant.source.split("\n")[1] == '라벨 = "한글 데이터"; 학습 = x[:79]  # 주석: 앞의 80개'
    assert slice_mutant.line == 2
    assert descriptions["`-` → `+`"].source.split("\n")[3] == "평균 = float(학습.mean() + 2)"
    assert descriptions["removed `.mean()`"].source.split("\n")[3] == "평균 = float(학습 - 2)"
    assert descriptions["deleted `시험 = x[80:]`"].source.split("\n")[2] == "pass"
    assert "`학습` → `시험`" not in descriptions  # `학습.mean()`: a receiver keeps its methods
    assert [m.source.split("\n")[2] for m in toy["p2"]
            if m.description == "`x` → `학습`" and m.line == 3] == ["시험 = 학습[80:]"]


@pytest.mark.parametrize("source, expect_any", [
    ("y = 2 * 3", True),  # no markers: the whole cell is the answer, as nbgrader has it
    ("%timeit 1 + 1\ny = 2", False),  # a magic: not Python, no mutants
    ("### BEGIN SOLUTION\n# nothing to mutate\n### END SOLUTION", False),
])
def test_cells_without_markers_or_python(tmp_path, source, expect_any):
    found = mutants.candidates(make_assignment(tmp_path, [source]))
    assert bool(found["p1"]) == expect_any
    assert (mutants.counts(found)["p1"]["number"] > 0) == expect_any


@pytest.mark.parametrize("code, description, mutated", [
    ("y = 2 ** 3", "`2` → `(-2)`", "y = (-2) ** 3"),
    ("y = -0.5", "`-0.5` → `0.5`", "y = 0.5"),
    ("y = not (a or b)", "`not (a or b)` → `(a or b)`", "y = (a or b)"),
    ("y = a is not None", "`is not` → `is`", "y = a is None"),
    ("y = 3 in a", "`in` → `not in`", "y = 3 not in a"),
    ("y = a and b", "`and` → `or`", "y = a or b"),
    ("y = -(a + b)", "removed `-` of `-(a + b)`", "y = (a + b)"),
    ("y = a[-1]", "`a[-1]` → `a[-2]`", "y = a[-2]"),
    ("y = a[:n]", "`a[:n]` → `a[:n - 1]`", "y = a[:n - 1]"),
    ("y = a  @  b", "`@` → `*`", "y = a  *  b"),
    ("y = (a) // (b)  # 몫", "`//` → `/`", "y = (a) / (b)  # 몫"),
    ("y = 1\ny += 2", "`+=` → `-=`", "y = 1\ny -= 2"),
    ("flag = True", "`True` → `False`", "flag = False"),
])
def test_operator_edits(code, description, mutated):
    answer, region = mutants.solution_region(code)
    found = mutants.cell_mutants("p", answer, region)
    assert [m.source for m in found if m.description == description] == [mutated]


def test_docstring_deletion_and_module_calls_are_not_mutants():
    code = 'import torch\ndef f(x):\n    "Doc."\n    return torch.relu(x)'
    answer, region = mutants.solution_region(code)
    found = mutants.cell_mutants("p", answer, region)
    assert not [m for m in found if "Doc." in m.description]
    assert not [m for m in found if m.operator == "call"]  # `torch.relu(x)` → `torch` is no mutant
    assert re.search(r"deleted `return torch.relu\(x\)`", " ".join(m.description for m in found))

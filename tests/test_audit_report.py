"""The audit's write-up (dropout_kit.audit.report) from a synthetic AuditResult: no grading.

The console summary, the HTML page (sections, escaping, checks named by their titles, diffs,
the mutants that count neither way listed apart), the score chart, the survivors exported as
corpus entries, and a saved and loaded result giving the same report."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from dropout_kit.audit import report
from dropout_kit.audit.results import (ACCEPTED, BROKE, EQUIVALENT, KILLED, KILLED_ELSEWHERE, SURVIVED,
                                       TIMEOUT, AuditResult, Difference, Mutant, MutantResult)

SPLIT = """\
xtr, ytr = x[:80], y[:80]
xts, yts = x[80:], y[80:]"""

DROPOUT = """\
def my_dropout(x, p, training=True):
    if not training:
        return x
    mask = (torch.rand_like(x) >= p).float()
    return x * mask / (1 - p)"""

PREDICT = """\
net.eval()
yhat = net(xts)"""

SCRIPT = '<script>alert("x")</script>'
SCALE_TITLE = "test_my_dropout_scale: 살아남은 값 = 입력 / (1-p)  (p=0.9 이면 10배)"
MEAN_TITLE = "test_my_dropout_scale: 출력의 평균이 입력의 평균과 같게 유지됨 (p=0.9)"
MASK_TITLE = "test_my_dropout_mask: 버려지는 비율이 p 에 가까움"
SPLIT_TITLE = "test_split: 처음 80개 행 & 나머지"
PARTS = {"split": ["test_split"], "my_dropout": ["test_my_dropout_mask", "test_my_dropout_scale"],
         "eval_predict": ["test_eval_predict"]}
MAXIMA = {"test_split": 2.0, "test_my_dropout_mask": 3.0, "test_my_dropout_scale": 3.0, "test_eval_predict": 3.0}


def mutant(part: str, operator: str, n: int, original: str, old: str, new: str, description: str) -> Mutant:
    assert old in original
    source = original.replace(old, new, 1)
    line = next(i for i, (a, b) in enumerate(zip(original.splitlines(), source.splitlines()), 1) if a != b)
    return Mutant(f"{part}-{operator}-{n}", part, operator, line, description, original, source)


def graded(m: Mutant, status: str, lost: dict[str, float] | None = None, failed=(), **extra) -> MutantResult:
    scores = {**MAXIMA, **(lost or {})}
    return MutantResult(m, status, scores, dict(MAXIMA), list(failed), seconds=extra.pop("seconds", 11.0), **extra)


def build() -> AuditResult:
    results = [
        graded(mutant("split", "slice", 1, SPLIT, "x[:80]", "x[:79]", "`80` → `79`"), KILLED,
               {"test_split": 1.0}, [SPLIT_TITLE]),
        graded(mutant("split", "slice", 2, SPLIT, "x[80:]", "x[81:]", "`80` → `81`"), KILLED,
               {"test_split": 1.5}, [SPLIT_TITLE]),
        graded(mutant("split", "slice", 3, SPLIT, "y[:80]", "y[:8]", "`80` → `8`"), KILLED,
               {"test_split": 0.0}, [SPLIT_TITLE, "test_split: ytr 의 모양 (80, 1)"]),
        graded(mutant("split", "swap", 1, SPLIT, "xts, yts = x[80:], y[80:]", "yts, xts = x[80:], y[80:]",
                      "swapped `xts` and `yts`"), KILLED_ELSEWHERE,
               {"test_eval_predict": 0.0}, ["test_eval_predict: 예측의 모양 (20, 1)"]),
        graded(mutant("my_dropout", "compare", 1, DROPOUT, ">= p", "> p", "`>=` → `>`"), EQUIVALENT,
               differences=[]),
        graded(mutant("my_dropout", "arith", 1, DROPOUT, "/ (1 - p)", "* (1 - p)", "`/` → `*`"), KILLED,
               {"test_my_dropout_scale": 1.0}, [SCALE_TITLE, MEAN_TITLE]),
        graded(mutant("my_dropout", "compare", 2, DROPOUT, ">= p", "<= p", "`>=` → `<=`"), KILLED,
               {"test_my_dropout_mask": 0.0}, [MASK_TITLE]),
        graded(mutant("my_dropout", "return", 1, DROPOUT, "return x\n", f"return x  # {SCRIPT}\n",
                      f"comment {SCRIPT}"), SURVIVED,
               differences=[Difference("my_dropout(linspace(1, 2, 1000), 0.8) [seed 2]",
                                       "mean 1.50 <ok>", "mean 1.49 & <b>odd</b>")]),
        graded(mutant("my_dropout", "const", 1, DROPOUT, "(1 - p)", "(1.0 - p + 1e-9)", "`1` → `1.0 … + 1e-9`"),
               ACCEPTED, precedent="eps_in_denominator",
               differences=[Difference("my_dropout(ones(10), 0.5)", "2.0", "1.999999996")]),
        graded(mutant("my_dropout", "delete", 1, DROPOUT, "        return x\n", "        pass\n",
                      "deleted `return x`"), BROKE, error="NameError: name 'mask' is not defined"),
        graded(mutant("my_dropout", "loop", 1, DROPOUT, "if not training", "while not training",
                      "`if` → `while`"), TIMEOUT, error="my_dropout_cell (CellTimeoutError after 60 s)"),
        graded(mutant("eval_predict", "delete", 1, PREDICT, "net.eval()\n", "", "deleted `net.eval()`"),
               BROKE, error="NameError: name 'yhat' is not defined"),
    ]
    return AuditResult("dropout", 7, PARTS,
                       {"split": {"slice": 4, "swap": 1}, "my_dropout": {"compare": 3, "arith": 2, "return": 1,
                                                                         "const": 2, "delete": 2, "loop": 1},
                        "eval_predict": {"delete": 1}},
                       results, workers=4, seconds=312.0, reference_seconds=9.5)


@pytest.fixture
def audit() -> AuditResult:
    return build()


@pytest.fixture
def written(audit, tmp_path) -> tuple[Path, str]:
    page = report.write_report(audit, tmp_path / "out", {"test_my_dropout_scale": "Part 2b: 스케일과 모드"})
    return page, page.read_text(encoding="utf-8")


def section(page: str, heading: str) -> str:
    """The page from the <h2> starting with `heading` to the next <h2>."""
    found = re.search(rf"<h2>{re.escape(heading)} <span .*?</h2>(.*?)(?=<h2>|</body>)", page, re.S)
    assert found, heading
    return found.group(1)


def test_summary_gives_each_part_its_score_and_the_goal(audit):
    text = report.summary_text(audit)
    lines = text.splitlines()
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    split = next(line for line in lines if line.startswith("split "))
    assert re.search(r"75%\s+✗$", split), split  # 3 killed of 4 scored
    dropout = next(line for line in lines if line.startswith("my_dropout "))
    assert re.search(r"\b67%\s+✗$", dropout), dropout  # 2 killed, 1 survived; 1 equivalent apart
    assert dropout.split()[1:10] == ["11", "7", "2", "0", "1", "1", "1", "1", "1"]
    predict = next(line for line in lines if line.startswith("eval_predict "))
    assert predict.endswith(" -"), predict
    assert "✓" not in text
    assert "goal 95%" in lines[1]


def test_summary_marks_a_part_at_the_goal(audit):
    audit.results = [r for r in audit.results if r.mutant.part != "split" or r.status == KILLED]
    line = next(line for line in report.summary_text(audit).splitlines() if line.startswith("split "))
    assert re.search(r"100%\s+✓$", line), line


def test_summary_lists_survivors_with_the_modules_to_strengthen(audit):
    text = report.summary_text(audit)
    survivors = text.split("Survivors to review")[1]
    assert "my_dropout-return-1: comment <script>" in survivors
    assert "strengthen grader_tests/dropout/: test_my_dropout_mask.py, test_my_dropout_scale.py" in survivors
    for other in ("my_dropout-compare-1", "my_dropout-const-1", "split-swap-1"):  # not survivors
        assert other not in survivors.split("Killed only")[0]
    assert "312" not in text and "5 min 12 s" in text and "4 workers" in text
    assert "11.0 s per mutant (reference answer: 9.5 s, ×1.16)" in text


def test_page_has_every_section_and_the_chart(written):
    page_path, page = written
    assert page_path.name == "audit.html"
    assert '<meta charset="utf-8">' in page and '<html lang="en">' in page
    for heading in ("Mutation score", "Candidates and sample graded", "Survivors to review",
                    "Killed only in other parts", "Likely equivalent", "Accepted by the contract",
                    "Broke the notebook", "Timeout", "Killed"):
        section(page, heading)
    assert '<span class="ko" lang="ko">· 검토할 생존 변이</span>' in page
    assert '<img src="audit-scores.png"' in page
    for part in PARTS:
        assert f'id="candidates-{part}"' in page


def test_page_escapes_what_comes_from_code(written):
    _, page = written
    assert "<script>" not in page and "<b>odd</b>" not in page
    assert html.escape(SCRIPT) in page
    assert "mean 1.49 &amp; &lt;b&gt;odd&lt;/b&gt;" in page


def test_survivors_show_diff_differences_and_modules(written):
    _, page = written
    survivors = section(page, "Survivors to review")
    assert survivors.count('class="mutant survivor"') == 1
    assert '<pre class="diff">' in survivors
    assert f'<span class="add">+        return x  # {html.escape(SCRIPT)}</span>' in survivors
    assert '<span class="del">-        return x</span>' in survivors
    assert "my_dropout(linspace(1, 2, 1000), 0.8) [seed 2]" in survivors and "mean 1.50 &lt;ok&gt;" in survivors
    assert "<code>grader_tests/dropout/test_my_dropout_mask.py</code>" in survivors
    assert "<code>grader_tests/dropout/test_my_dropout_scale.py</code> — <span lang=\"ko\">Part 2b: 스케일과 모드" \
        in survivors
    # Listed apart, never among the survivors:
    for other in ("my_dropout-compare-1", "my_dropout-const-1"):
        assert other not in survivors


def test_a_change_on_the_last_line_keeps_the_diff_lines_apart(written):
    # The cells do not end with a newline: the removed and added last lines stay two lines.
    _, page = written
    elsewhere = section(page, "Killed only in other parts")
    assert ('<span class="del">-xts, yts = x[80:], y[80:]</span>'
            '<span class="add">+yts, xts = x[80:], y[80:]</span>') in elsewhere


def test_equivalent_and_accepted_are_listed_apart_with_diffs(written):
    _, page = written
    equivalent = section(page, "Likely equivalent")
    assert "my_dropout-compare-1" in equivalent and '<pre class="diff">' in equivalent
    assert "my_dropout-const-1" not in equivalent
    accepted = section(page, "Accepted by the contract")
    assert "my_dropout-const-1" in accepted and "<code>eps_in_denominator</code>" in accepted
    assert '<pre class="diff">' in accepted and "my_dropout-compare-1" not in accepted


def test_killed_elsewhere_names_the_cells_that_lost_points(written):
    _, page = written
    elsewhere = section(page, "Killed only in other parts")
    assert "split-swap-1" in elsewhere
    assert "Lost points in: <code>test_eval_predict</code>" in elsewhere
    assert "예측의 모양 (20, 1)" in elsewhere


def test_broke_and_timeout_show_their_errors(written):
    _, page = written
    broke = section(page, "Broke the notebook")
    assert "my_dropout-delete-1" in broke and "eval_predict-delete-1" in broke
    assert "NameError: name &#x27;mask&#x27; is not defined" in broke
    assert "CellTimeoutError after 60 s" in section(page, "Timeout")


def test_killed_mutants_are_named_with_the_titles_of_their_checks(written):
    _, page = written
    killed = section(page, "Killed")
    rows = re.findall(r"<tr>(.*?)</tr>", killed.split("<tbody>")[1], re.S)
    assert len(rows) == 5
    arith = next(row for row in rows if "my_dropout-arith-1" in row)
    assert ('<code>test_my_dropout_scale</code>: <span lang="ko">살아남은 값 = 입력 / (1-p)  (p=0.9 이면 10배)'
            '</span><br><code>test_my_dropout_scale</code>: <span lang="ko">출력의 평균이 입력의 평균과 같게 유지됨 '
            '(p=0.9)</span>') in arith
    assert "<code>/</code> → <code>*</code>" in arith  # the description's `code`
    assert "(another part)" not in killed


def test_statuses_table_shows_scores_and_dash_for_nothing_scored(written):
    _, page = written
    table = re.search(r'<table id="statuses">(.*?)</table>', page, re.S).group(1)
    rows = {re.search(r"<code>(\w+)</code>", row).group(1): row for row in re.findall(r"<tr>(.*?)</tr>", table)[1:]}
    assert set(rows) == set(PARTS)
    assert rows["eval_predict"].endswith("<td>0</td><td>-</td>")
    assert "67% ✗" in rows["my_dropout"] and "75% ✗" in rows["split"]


def test_chart_is_a_real_png(written):
    page_path, _ = written
    chart = page_path.with_name("audit-scores.png")
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    from matplotlib import image
    pixels = image.imread(chart)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 500


def test_export_holds_only_the_survivors_as_corpus_entries(audit, tmp_path):
    path = report.export_survivors(audit, tmp_path / "survivors.json")
    entries = json.loads(path.read_text(encoding="utf-8"))
    assert [e["name"] for e in entries] == ["my_dropout-return-1"]
    entry = entries[0]
    survivor = next(r.mutant for r in audit.results if r.status == SURVIVED)
    assert entry == {"name": survivor.id, "part": "my_dropout", "answers": {"my_dropout": survivor.source},
                     "description": survivor.description, "operator": "return",
                     "diff": "\n".join(report.diff_lines(survivor)) + "\n"}
    assert entry["diff"].startswith("--- reference/my_dropout\n+++ mutant/my_dropout\n@@ ")
    assert SCRIPT in entry["answers"]["my_dropout"]


def test_a_saved_and_loaded_result_gives_the_same_report(audit, tmp_path):
    saved = tmp_path / "audit.json"
    audit.save(saved)
    loaded = AuditResult.load(saved)
    assert report.summary_text(loaded) == report.summary_text(audit)
    first = report.write_report(audit, tmp_path / "a")
    second = report.write_report(loaded, tmp_path / "b")
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")
    assert (tmp_path / "a" / "audit-scores.png").read_bytes() == (tmp_path / "b" / "audit-scores.png").read_bytes()
    assert report.export_survivors(audit, tmp_path / "a.json").read_text(encoding="utf-8") == \
        report.export_survivors(loaded, tmp_path / "b.json").read_text(encoding="utf-8")

"""Nothing a student writes runs in another person's browser (issue 31).

The kit's allow-list (dropout_kit/pages/inert.py) on every payload of tests/payloads.py and on
what people must still read; then the real pages, from a graded class (grading_fixtures: no
grading round of its own) in which one student's autograded notebook carries every payload,
in its hand-graded markdown answer and in outputs of one of its cells, and a grader's comment
carries one too:
  * `nbgrader generate_feedback`'s page, opened in Chromium with no Content-Security-Policy
    (the templates alone must be inert);
  * the formgrader's grading page and list pages, from a real Jupyter server with nbgrader's
    formgrader and the kit's extension: the policy header is sent, no script of a payload
    runs and the browser reports no violation of the policy at all (nothing even tried),
    and grading by hand still works (a score and a comment saved, next and previous).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import dropout_assignment as dropout
import nbformat
import payloads
import pytest
from bs4 import BeautifulSoup
from formgrader_server import FormgraderServer
from nbformat.v4 import new_output
from nbgrader.api import Gradebook
from playwright.sync_api import Page, expect

from dropout_kit.classroom.course_paths import CoursePaths
from dropout_kit.formgrader.policy import formgrader_policy
from dropout_kit.harness.commands import nbgrader
from dropout_kit.pages import scriptless
from dropout_kit.pages.exporters import NBGRADER_TEMPLATES
from dropout_kit.pages.inert import CLASS_FAMILIES, CLASSES, ID_PREFIX, inert_html

pytest_plugins = ["grading_fixtures"]

STUDENT = "reference"  # the class's student whose notebook gets the payloads
COMMENT = '좋은 설명입니다 <img src=x onerror="{js}">'
FORBIDDEN_TAGS = ["script", "style", "iframe", "object", "embed", "form", "input", "button",
                  "base", "meta", "link", "svg", "textarea", "annotation-xml"]


def student_markup(soup: BeautifulSoup) -> list:
    """The parts of a kit page that hold what students control: markdown, outputs, and the
    feedback's comments (the formgrader's comment boxes are nbgrader's, filled by script)."""
    return [*soup.select(".text_cell_render, .output_area"),
            *[f for f in soup.select(".panel-footer") if not f.find("textarea")]]


def assert_inert_markup(fragments) -> None:
    for fragment in fragments:
        for tag in fragment.find_all(True):
            assert tag.name not in FORBIDDEN_TAGS, tag
            for name, value in tag.attrs.items():
                assert not name.lower().startswith("on"), tag
                assert name != "style" or tag.name in ("th", "td"), tag
                value = " ".join(value) if isinstance(value, list) else value
                if name == "href":
                    assert value.startswith(("http:", "https:", "mailto:", f"#{ID_PREFIX}")), tag
                if name == "src":
                    assert value.startswith("data:image/"), tag
                if name == "id":  # the page's own ids (statusmessage, a score box's) stay the page's
                    assert value.startswith(ID_PREFIX), tag
                if name == "class":  # no layout class (a modal, a fixed bar) over the page
                    assert all(c in CLASSES or CLASS_FAMILIES.fullmatch(c) for c in value.split()), tag
                assert "atob" not in value, tag


# -- the allow-list ----------------------------------------------------------------------

@pytest.mark.parametrize("name", list(payloads.MARKDOWN))
def test_allow_list_removes_each_markdown_payload(name):
    payload = payloads.MARKDOWN[name].format(js="eval(atob('QQ=='))", raw="alert(1)", frame="QQ==")
    assert_inert_markup([BeautifulSoup(f"<div>{inert_html(payload)}</div>", "html.parser")])


@pytest.mark.parametrize("name,bundle", [(n, b) for n, b, _ in payloads.outputs()])
def test_allow_list_removes_each_output_payload(name, bundle):
    for value in bundle.values():
        cleaned = inert_html(value if value.lstrip().startswith("<") else f"<script>{value}</script>")
        assert_inert_markup([BeautifulSoup(f"<div>{cleaned}</div>", "html.parser")])


def test_allow_list_keeps_what_people_read():
    markup = ('<h2 id="why">왜?</h2><p><em>드랍아웃</em>은 <strong>앙상블</strong>, <code>net.eval()</code>'
              '<a href="#why">위로</a> <a href="https://pytorch.org">문서</a> <a href="mailto:ta@x.kr">조교</a></p>'
              '<ul><li>하나</li></ul><ol start="2"><li>둘</li></ol><blockquote>인용</blockquote>'
              '<table><thead><tr><th style="text-align:left">부분</th></tr></thead>'
              '<tbody><tr><td style="text-align:right">1</td></tr></tbody></table>'
              '<pre><span class="ansi-red-fg">Error</span> <span class="n">x</span></pre>'
              '<img src="data:image/png;base64,iVBORw0KGgo=" alt="그림" width="300">')
    kept = inert_html(markup)
    for piece in ['<h2 id="user-content-why">', "<em>", "<strong>", "<code>", 'href="#user-content-why"',
                  'href="https://pytorch.org"', 'href="mailto:ta@x.kr"', "<ul>", '<ol start="2">',
                  "<blockquote>", "<thead>", '<th style="text-align:left">', '<td style="text-align:right">',
                  'class="ansi-red-fg"', 'class="n"', 'src="data:image/png;base64,iVBORw0KGgo="',
                  'width="300"']:
        assert piece in kept, (piece, kept)


# -- nbgrader's templates without inline code ---------------------------------------------

@pytest.mark.parametrize("template", sorted(
    p.relative_to(NBGRADER_TEMPLATES).as_posix() for p in NBGRADER_TEMPLATES.rglob("*")
    if p.suffix in (".tpl", ".j2")))
def test_nbgrader_templates_are_served_without_inline_code(template):
    rewritten = scriptless.rewrite((NBGRADER_TEMPLATES / template).read_text(encoding="utf-8"), template)
    assert not scriptless.INLINE_SCRIPT.search(rewritten)
    assert not scriptless.ANY_EVENT_ATTRIBUTE.search(rewritten)
    for sha in [*re.findall(r"/inline/([0-9a-f]{32})\.js", rewritten),
                *re.findall(r'data-kit-onclick="([0-9a-f]{32})"', rewritten)]:
        assert sha in scriptless.SCRIPTS


def test_a_template_with_inline_code_it_cannot_move_is_refused():
    with pytest.raises(scriptless.TemplateRewriteError):
        scriptless.rewrite('<script src="{{ base_url }}/formgrader/static/a.js"></script>'
                           '<script>var x = {{ y }};</script>', "t.tpl")
    with pytest.raises(scriptless.TemplateRewriteError):
        scriptless.rewrite('<script src="{{ base_url }}/formgrader/static/a.js"></script>'
                           '<img onerror="x()">', "t.tpl")


@pytest.mark.parametrize("server,kept", [
    ("frame-ancestors 'none'", "frame-ancestors 'none'"),  # JupyterHub's single-user servers
    ("frame-ancestors 'self'; report-uri /api/security/csp-report",
     "frame-ancestors 'self'; report-uri /api/security/csp-report"),
    (None, "frame-ancestors 'self'"),
])
def test_the_policy_keeps_the_servers_frame_ancestors(server, kept):
    policy = formgrader_policy(server)
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    assert policy.endswith(kept)


# -- the pages of a graded class ------------------------------------------------------------

def add_payloads(notebook: Path) -> None:
    """The student's answer and one cell's outputs as a payload-writing student's would be."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "why_dropout":
            cell.source = payloads.markdown_answer()
        if grade_id == "plot_modes":
            cell.outputs += [new_output("display_data", data=bundle, metadata=metadata)
                             for _, bundle, metadata in payloads.outputs()]
    nbformat.write(nb, notebook)


@pytest.fixture(scope="module")
def payload_course(parallel_class, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inert") / "course"
    shutil.copytree(parallel_class.root, root)
    paths = CoursePaths.load(root, dropout.ASSIGNMENT)
    notebook = paths.autograded_dir(STUDENT) / dropout.NOTEBOOK
    notebook.chmod(0o644)
    add_payloads(notebook)
    with Gradebook(paths.db_url) as gb:
        comment = gb.find_comment("why_dropout", dropout.ASSIGNMENT, dropout.ASSIGNMENT, STUDENT)
        comment.manual_comment = COMMENT.format(js=payloads.js_call("comment"))
        gb.db.commit()
    nbgrader("generate_feedback", dropout.ASSIGNMENT, "--force", cwd=root)
    return root


class Watched:
    """A page with every request it made and every policy violation it reported."""

    def __init__(self, page: Page):
        self.page, self.requests = page, []
        page.on("request", lambda request: self.requests.append(request.url))
        page.add_init_script(payloads.WATCH_VIOLATIONS)

    def assert_nothing_ran(self, title: str) -> None:
        self.page.wait_for_timeout(1500)  # an onerror, an animation's onbegin: soon after load
        assert self.page.title() == title
        assert not [u for u in self.requests if "pwned" in u], self.requests
        assert payloads.PWNED not in self.page.title()

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__violations || []")


def test_the_feedback_page_is_inert_without_any_policy(payload_course, chromium, tmp_path):
    """Served from an origin with nothing else (every other request recorded, answered 404)."""
    feedback = payload_course / "feedback" / STUDENT / dropout.ASSIGNMENT / "dropout.html"
    html = feedback.read_text(encoding="utf-8")
    assert_inert_markup(student_markup(BeautifulSoup(html, "html.parser")))
    page = chromium.new_page()
    watched = Watched(page)
    url = "http://course.invalid/user/instructor/files/feedback.html"
    page.route("**/*", lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8")
               if route.request.url == url else route.fulfill(status=404, body=""))
    page.goto(url)
    watched.assert_nothing_ran("dropout")
    expect(page.locator("text=매 epoch마다 학습에 참여하는 노드가")).to_be_visible()
    expect(page.locator(".output_png img").first).to_be_visible()
    # No script at all (nbgrader's CDN MathJax gone): the formulas are MathML, the table a table.
    assert "<script" not in html
    expect(page.locator(".rendered_html math").first).to_be_visible()
    assert page.locator(".rendered_html table th").count() >= 3
    page.screenshot(path=str(tmp_path / "feedback.png"), full_page=True)


@pytest.fixture(scope="module")
def formgrader(payload_course, tmp_path_factory):
    with FormgraderServer(payload_course, tmp_path_factory.mktemp("formgrader-home")) as server:
        yield server


def open_submission(page: Page, server: FormgraderServer, student: str):
    server.open(page, "formgrader")
    r = page.request.get(f"{server.url}/formgrader/api/submitted_notebooks/{dropout.ASSIGNMENT}/{dropout.ASSIGNMENT}")
    submission = next(s["id"] for s in r.json() if s["student"] == student)
    response = page.goto(f"{server.url}/formgrader/submissions/{submission}")
    page.wait_for_selector("input.score")
    return response


def test_the_grading_page_runs_no_payload_and_breaks_no_policy(formgrader, chromium, tmp_path):
    page = chromium.new_page()
    watched = Watched(page)
    response = open_submission(page, formgrader, STUDENT)
    assert "script-src 'self';" in response.headers["content-security-policy"]
    watched.assert_nothing_ran(dropout.ASSIGNMENT)
    assert watched.violations() == []
    assert_inert_markup(student_markup(BeautifulSoup(response.text(), "html.parser")))
    assert not list((formgrader.course).glob("pwned-*"))
    # MathJax from the server itself rendered the notebook's formulas.
    expect(page.locator(".MathJax_CHTML").first).to_be_attached(timeout=30_000)
    page.locator("input.score#why_dropout").evaluate("el => el.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(tmp_path / "grading-page.png"))


def test_hand_grading_still_works(formgrader, chromium):
    page = chromium.new_page()
    watched = Watched(page)
    open_submission(page, formgrader, STUDENT)
    page.fill("input.score#why_dropout", "2")
    page.locator("input.score#why_dropout").press("Tab")
    page.fill("textarea#why_dropout-comment", "설명이 조금 짧습니다.")
    page.locator("textarea#why_dropout-comment").press("Tab")
    expect(page.locator(".save-icon.glyphicon-refresh")).to_have_count(0)
    page.reload()
    page.wait_for_selector("input.score")
    expect(page.locator("input.score#why_dropout")).to_have_value("2")
    expect(page.locator("textarea#why_dropout-comment")).to_have_value("설명이 조금 짧습니다.")
    # Next and Prev lead on (to another submission, or to nbgrader's page at the end of the
    # list, whichever the submissions' order gives), under the same policy.
    for link in ("li.next a", "li.previous a"):
        here = page.url
        page.click(link)
        page.wait_for_url(lambda url: url != here)
        page.wait_for_load_state()
        page.go_back()
        page.wait_for_selector("input.score")
    # The eye icon shows the student's name (an onclick nbgrader wrote, moved out of the page).
    page.click("span.glyphicon.name-hidden")
    expect(page.locator("a.name-shown")).to_be_visible()
    assert watched.violations() == []


@pytest.mark.parametrize("path", [
    "formgrader/manage_assignments",
    f"formgrader/manage_submissions/{dropout.ASSIGNMENT}",
    f"formgrader/gradebook/{dropout.ASSIGNMENT}/{dropout.ASSIGNMENT}",
    "formgrader/manage_students",
])
def test_the_list_pages_work_under_the_policy(formgrader, chromium, path):
    """Each list fills in (its scripts ran), with no violation of the policy."""
    page = chromium.new_page()
    watched = Watched(page)
    formgrader.open(page, path)
    expect(page.locator("#main-table")).to_contain_text(STUDENT if "assignments" not in path else dropout.ASSIGNMENT)
    if "gradebook" in path:
        page.click("#toggle_names")
        expect(page.locator("#toggle_names")).to_have_text("Hide All Names")
    assert watched.violations() == []


def test_an_id_in_the_address_is_shown_as_text(formgrader, chromium):
    page = chromium.new_page()
    watched = Watched(page)
    formgrader.open(page, "formgrader/manage_students/" + '"><img src=x onerror="{}">'.format(
        payloads.js_call("address")))
    watched.assert_nothing_ran("nbgrader formgrade")
    assert watched.violations() == []

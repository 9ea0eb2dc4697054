"""What a student could hand in to run script in another person's browser: payloads in the
hand-graded markdown answer and in the outputs their code displays while it is graded.

Each payload that runs would set the page's title to "PWNED <name>" and write
`pwned-<name>.txt` through the Jupyter contents API of whoever opened the page (the
instructor's own server on the hub: /user/<name>/api/contents/...). The tests open the pages
and look for either. The payloads that need a click (javascript: links, a form) are checked
from the page's markup and clicked.
"""
from __future__ import annotations

import base64
import json

PWNED = "PWNED"
# For Page.add_init_script: what a page's Content-Security-Policy blocked, in window.__violations.
WATCH_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', e => {
  (window.__violations = window.__violations || []).push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def script(name: str) -> str:
    """The JavaScript a payload runs: the title, then a file written through the API."""
    return (
        "(function(){try{top.document.title='%(pwned)s %(name)s'}catch(e){}"
        "var m=location.pathname.match(/^\\/user\\/[^\\/]+\\//);"
        "var x=document.cookie.match(/_xsrf=([^;]+)/);"
        "fetch((m?m[0]:'/')+'api/contents/pwned-%(name)s.txt',{method:'PUT',"
        "headers:{'Content-Type':'application/json','X-XSRFToken':x?decodeURIComponent(x[1]):''},"
        "body:JSON.stringify({type:'file',format:'text',content:'%(name)s'})})})()"
    ) % {"pwned": PWNED, "name": name}


def js_call(name: str) -> str:
    """`script(name)` in a form without quotes or angle brackets, for any attribute."""
    encoded = base64.b64encode(script(name).encode()).decode()
    return f"eval(atob('{encoded}'))"


def _frame_page(name: str) -> str:
    return base64.b64encode(f"<script>{script(name)}</script>".encode()).decode()


# In the hand-graded markdown answer (why_dropout).
MARKDOWN = {
    "img-onerror": '<img src=x onerror="{js}">',
    "script": "<script>{raw}</script>",
    "svg-animate": '<svg><animate onbegin="{js}" attributeName="x" dur="1s"/></svg>',
    "svg-onload": '<svg onload="{js}"><circle r="5"/></svg>',
    "iframe-srcdoc": '<iframe srcdoc="<img src=x onerror=&quot;{js}&quot;>"></iframe>',
    "object-data": '<object data="data:text/html;base64,{frame}"></object>',
    "math-mxss": '<math><mtext><table><mglyph><style><img src=x onerror="{js}">',
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=javascript:{js}">',
    "details-ontoggle": '<details open ontoggle="{js}"><summary>더보기</summary>내용</details>',
    "javascript-link": "[참고 자료](javascript:{js})",
    "javascript-anchor": '<a href="javascript:{js}">참고</a>',
    "form": '<form action="api/contents/pwned-form.txt" method="post"><button>제출 확인</button></form>',
    "base": '<base href="https://example.invalid/">',
    "style-element": "<style>input.score {{ display: none }}</style>",
    "style-overlay": ('<div style="position:fixed;top:0;left:0;width:100%;height:100%;'
                      'background:white;z-index:9999">채점이 끝났습니다</div>'),
    "class-overlay": '<div class="modal-backdrop in navbar-fixed-top">가짜 메뉴</div>',
    "clobbering-id": '<span id="statusmessage">가짜 상태</span>',
}


def markdown_answer() -> str:
    """An honest answer with every markdown payload after it, one per paragraph."""
    lines = ["매 epoch마다 학습에 참여하는 노드가 임의로 바뀌므로 특정 노드가 잡음에 특화되기 어렵습니다."]
    for name, template in MARKDOWN.items():
        lines.append(template.format(js=js_call(f"md-{name}"), raw=script(f"md-{name}"),
                                     frame=_frame_page(f"md-{name}")))
    return "\n\n".join(lines)


# Outputs the student's code displays while graded: (name, mime bundle, metadata).
_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


def outputs() -> list[tuple[str, dict, dict]]:
    return [
        ("html-img", {"text/html": f'<img src=x onerror="{js_call("out-html-img")}">'}, {}),
        ("html-script", {"text/html": f"<b>결과</b><script>{script('out-html-script')}</script>"}, {}),
        ("svg", {"image/svg+xml": f'<svg xmlns="http://www.w3.org/2000/svg" onload="{js_call("out-svg")}">'
                                  '<circle r="5"/></svg>'}, {}),
        ("javascript", {"application/javascript": script("out-javascript")}, {}),
        ("markdown", {"text/markdown": f'<img src=x onerror="{js_call("out-markdown")}">'}, {}),
        ("png-metadata", {"image/png": _PNG},
         {"image/png": {"width": f'1 onerror="{js_call("out-png-metadata")}"', "alt": '"><b>alt</b>'}}),
    ]


def display_code() -> str:
    """Code that displays every output payload (appended to a code cell of the student's)."""
    bundles = [(bundle, metadata) for _, bundle, metadata in outputs()]
    return ("\nfrom IPython.display import display\n"
            f"for bundle, metadata in {json.dumps(bundles, ensure_ascii=False)}:\n"
            "    display(bundle, raw=True, metadata=metadata)\n")


def names() -> list[str]:
    """Every payload's name as its script says it (`md-…`, `out-…`)."""
    return [f"md-{n}" for n in MARKDOWN] + [f"out-{n}" for n, _, _ in outputs()]


def answers(reference: dict[str, str]) -> dict[str, str]:
    """A correct notebook's answers with every payload: the markdown answer, and a plot cell
    whose code displays every output payload while it is graded."""
    return {**reference, "why_dropout": markdown_answer(),
            "plot_modes": reference["plot_modes"] + display_code()}

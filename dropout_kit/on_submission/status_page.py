"""What a student reads after Submit, before the feedback is ready: a small page in Korean put
where nbgrader's Fetch Feedback finds feedback, so that the Assignments list offers
"Fetch Feedback" at once and the real feedback replaces the page when it is released
(nbgrader then shows the feedback as updated). Nothing to install for students."""
from __future__ import annotations

import html

PAGE = """<!DOCTYPE html>
<html lang="ko"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: "Noto Sans CJK KR", "Apple SD Gothic Neo", "Malgun Gothic", sans-serif;
       max-width: 44em; margin: 3em auto; padding: 0 1em; line-height: 1.6; color: #222; }}
.box {{ border: 1px solid #ccd; border-radius: 8px; padding: 1.2em 1.5em; background: #f7f8fc; }}
h1 {{ font-size: 1.4em; margin-top: 0; }} .note {{ color: #555; font-size: 0.95em; }}
</style></head>
<body><div class="box"><h1>{title}</h1>{body}
<p class="note">제출 시각: {submitted}</p></div></body></html>
"""

FETCH_AGAIN = ("<p>채점이 끝나면 <b>Assignments</b> 목록의 이 제출에 새 피드백이 있다고 표시됩니다. "
               "그때 <b>Fetch Feedback</b> 을 다시 누르세요.</p>")
# No result is shown yet: this says what the coming one will be.
PROVISIONAL = ("<p class=\"note\">곧 받을 피드백은 마감 전 자동 채점(가채점) 결과입니다. 최종 점수는 "
               "마감 후 강사의 채점으로 확정됩니다.</p>")


def queued(submitted: str, position: int) -> str:
    return _page("⏳ 채점 중", f"<p>제출을 받았습니다. 채점 대기 순번: <b>{position}</b>번째. "
                 "아직 결과는 없습니다.</p>" + FETCH_AGAIN + PROVISIONAL, submitted)


def waiting_for_rate(submitted: str, per_hour: int, when: str) -> str:
    return _page("⏳ 채점 대기", f"<p>자동 채점은 한 사람당 한 시간에 {per_hour}번까지 합니다. "
                 f"이 제출은 <b>{html.escape(when)}</b> 쯤 채점합니다. 그 사이에 다시 제출하면 "
                 "가장 마지막 제출만 채점합니다.</p>" + FETCH_AGAIN, submitted)


def paused(submitted: str) -> str:
    return _page("⏸ 채점 대기", "<p>강사가 자동 채점을 잠시 멈췄습니다. 다시 시작하면 이 제출을 "
                 "채점합니다.</p>" + FETCH_AGAIN, submitted)


def superseded(submitted: str, later: str) -> str:
    return _page("이 제출은 채점하지 않았습니다",
                 f"<p>더 최근 제출({html.escape(later)})이 있어서, 가장 마지막 제출만 채점합니다. "
                 "그 제출의 피드백을 보세요.</p>", submitted)


def after_deadline(submitted: str, deadline: str) -> str:
    return _page("마감 후 제출", f"<p>마감({html.escape(deadline)}) 뒤에 받은 제출이라 자동 채점하지 "
                 "않습니다. 강사의 채점에서 처리합니다.</p>", submitted)


def failed(submitted: str) -> str:
    return _page("자동 채점을 하지 못했습니다",
                 "<p>이 제출의 자동 채점이 실패했습니다. 강사에게 자동으로 알렸으니 따로 할 일은 "
                 "없습니다.</p>", submitted)


def _page(title: str, body: str, submitted: str) -> str:
    return PAGE.format(title=html.escape(title), body=body, submitted=html.escape(submitted))

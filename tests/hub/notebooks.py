"""A student's answers, written to their fetched notebook through the Jupyter contents
API of their own server, with their own browser session (cookies and XSRF token)."""
from __future__ import annotations

import copy
import json

from playwright.sync_api import Page

from dropout_kit import cells

NOTEBOOK = "dropout/dropout.ipynb"


def _api(page: Page, url: str, user: str, path: str) -> str:
    return f"{url}/user/{user}/api/contents/{path}"


def _xsrf(page: Page, user: str) -> str:
    for cookie in page.context.cookies():
        if cookie["name"] == "_xsrf" and cookie["path"] == f"/user/{user}/":
            return cookie["value"]
    raise AssertionError(f"no _xsrf cookie for {user}'s server: is the lab open?")


def get_notebook(page: Page, url: str, user: str, path: str = NOTEBOOK) -> dict:
    r = page.request.get(_api(page, url, user, path) + "?content=1")
    assert r.ok, f"GET {path} as {user}: {r.status} {r.text()[:300]}"
    return r.json()["content"]


def put_notebook(page: Page, url: str, user: str, nb: dict, path: str = NOTEBOOK) -> None:
    r = page.request.put(_api(page, url, user, path),
                         data=json.dumps({"type": "notebook", "format": "json", "content": nb}),
                         headers={"X-XSRFToken": _xsrf(page, user),
                                  "Content-Type": "application/json"})
    assert r.ok, f"PUT {path} as {user}: {r.status} {r.text()[:300]}"


def rename(page: Page, url: str, user: str, old: str, new: str) -> None:
    r = page.request.patch(_api(page, url, user, old), data=json.dumps({"path": new}),
                           headers={"X-XSRFToken": _xsrf(page, user),
                                    "Content-Type": "application/json"})
    assert r.ok, f"rename {old} -> {new} as {user}: {r.status} {r.text()[:300]}"


def with_answers(nb: dict, answers: dict[str, str]) -> dict:
    """The notebook with the solution cells named in `answers` replaced."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        gid = cells.grade_id(cell)
        if gid in answers:
            cell["source"] = answers[gid]
    return nb


def write_answers(page: Page, url: str, user: str, answers: dict[str, str]) -> None:
    put_notebook(page, url, user, with_answers(get_notebook(page, url, user), answers))


def get_text(page: Page, url: str, user: str, path: str) -> str:
    r = page.request.get(_api(page, url, user, path) + "?content=1&type=file&format=text")
    assert r.ok, f"GET {path} as {user}: {r.status} {r.text()[:300]}"
    return r.json()["content"]


def newest_feedback(page: Page, url: str, user: str, assignment: str) -> str:
    """Path of the newest fetched feedback page: <assignment>/feedback/<time>/<nb>.html."""
    r = page.request.get(_api(page, url, user, f"{assignment}/feedback") + "?content=1")
    assert r.ok, f"no fetched feedback for {user}: {r.status}"
    newest = max(r.json()["content"], key=lambda d: d["name"])
    return f"{newest['path']}/{assignment}.html"

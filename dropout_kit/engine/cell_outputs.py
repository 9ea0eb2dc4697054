"""What the grading writes into a cell's outputs: errors in place of results, the output
budget's cuts, and timestamps as nbclient records them."""
from __future__ import annotations

import datetime

from nbformat import NotebookNode
from nbformat.v4 import new_output

TRUNCATED = "\n… 출력이 너무 많아 여기서부터 생략했습니다 (셀당 {limit:,} 바이트까지 보관).\n"


def error_output(ename: str, message: str) -> NotebookNode:
    return new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


def error_of(cell) -> dict | None:
    """The error output a cell's run ended in, or None."""
    return next((output for output in cell.get("outputs", []) if output.get("output_type") == "error"), None)


def message_size(content: dict) -> int:
    if "text" in content:
        return len(content["text"])
    size = 0
    for key in ("data", "traceback", "evalue"):
        value = content.get(key)
        if isinstance(value, dict):
            size += sum(len(str(v)) for v in value.values())
        elif value is not None:
            size += len(str(value))
    return size


def shrink(content: dict, limit: int) -> None:
    """Cuts the text of a result or error that arrives after the budget is spent."""
    data = content.get("data")
    if isinstance(data, dict):
        for key, value in list(data.items()):
            if isinstance(value, str) and len(value) > limit:
                data[key] = value[:limit] + " …"
    if isinstance(content.get("traceback"), list) and len(content["traceback"]) > 50:
        content["traceback"] = content["traceback"][:25] + ["…"] + content["traceback"][-24:]


def now() -> str:
    """A timestamp as nbclient records cell timing (read by dropout_kit.classroom.grade_class)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")

"""The checker process: where the hidden checks run while nbgrader autogrades.

nbgrader's side (dropout_kit.engine.broker) starts it sandboxed, one per submission, with the
folder of hidden checks as its only course path. It speaks JSON lines on its standard
input and output, which are its only way out:
  in:  {"run": "<test module>"}                  grade one autograder cell
       {"reply": ...} / {"text": ...}            answers to its requests
       {"unavailable": "<why>"}                  the kernel cannot answer
  out: {"kernel": "<request>"}                   for the student's kernel's agent
       {"source": "<grade_id>"}                  a submitted cell's source
       {"result": {...}}                         the module's verdicts
Everything else it would print (pytest, torch warnings) goes to its standard error.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    protocol_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray prints (pytest, libraries) must not corrupt the protocol
    sys.stdout = sys.stderr

    import torch
    torch.set_num_threads(1)
    from dropout_kit.checks.remote import Notebook, dumps, stdio_transport
    from dropout_kit.checks.runner import run_checks

    transport = stdio_transport(sys.stdin, protocol_out)
    while True:
        line = sys.stdin.readline()
        if not line:
            return 0
        message = json.loads(line)
        if "run" in message:
            result = run_checks(message["run"], Notebook(transport), folder)
            protocol_out.write(dumps({"result": result.as_data()}) + "\n")
            protocol_out.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The checker process: where the hidden checks run while nbgrader autogrades.

nbgrader's side (dropout_kit.engine.broker) starts one sandboxed checker server per grading
process, with the folder of hidden checks as its only course path. The server imports
torch and pytest once, then forks one checker per submission: each checker starts from
the server's untouched state, serves one student and ends, so nothing of one student's
grading reaches another's, and no submission waits for torch's import (seconds of CPU).

The server listens on a Unix socket (SOCK_SEQPACKET) it inherits:
  "fork" + two file descriptors (the checker's channel, its standard error)  →  "<pid>"
  "kill <pid>"                                                               →  "ok"
A checker speaks JSON lines on its channel, its only way out:
  in:  {"run": "<test module>", "seed": <int>}   grade one autograder cell, its random numbers
                                                 seeded with the submission's seed (check_key)
       {"reply": ...} / {"text": ...} / {"cells": [...]} / {"value": ...}   answers to its requests
       {"unavailable": "<why>", "over": {...}}   the kernel cannot answer (over: the request's
                                                 budget it ran past: kind, limit, seconds, restarted)
  out: {"kernel": "<request>"}                   for the student's kernel's agent
       {"source": "<grade_id>"}                  a submitted cell's source
       {"cells_before": "<grade_id>"}            the code cells' sources up to that cell
       {"ran_out_of_time": "<grade_id>"}         whether that cell was stopped at its time limit
       {"result": {...}}                         the module's verdicts
Everything else it would print (pytest, torch warnings) goes to its standard error.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import sys
import traceback
from pathlib import Path

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    """The server: `<folder of hidden checks> <control socket's file descriptor>`."""
    folder, control = Path(argv[0]), socket.socket(fileno=int(argv[1]))
    os.dup2(2, 1)  # stray prints (pytest, libraries) must not reach anything else
    sys.stdout = sys.stderr

    import pytest  # noqa: F401 - imported once here rather than in every checker
    import torch
    torch.set_num_threads(1)
    import dropout_kit.checks.runner  # noqa: F401
    from dropout_kit.integrity.dropout_use import dropout_use
    dropout_use(["def f(x):\n    return x"], "f")  # its parser's first use costs ~60 ms

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps ended checkers
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 64, 2)
        except ConnectionError:
            return 0
        if not message:
            return 0  # nbgrader's side went away
        command = message.decode("ascii")
        if command == "fork":
            pid = os.fork()
            if pid == 0:
                control.close()
                os._exit(_checker(folder, *fds))
            for fd in fds:
                os.close(fd)
            control.send(str(pid).encode("ascii"))
        elif command.startswith("kill "):
            try:
                os.kill(int(command.split()[1]), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
            control.send(b"ok")


def _checker(folder: Path, channel: int, errors: int) -> int:
    """One submission's checker, in a fresh fork of the server."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.dup2(errors, 2)
        os.dup2(errors, 1)
        os.close(errors)
        reader = os.fdopen(channel, "r", encoding="utf-8")
        writer = os.fdopen(os.dup(channel), "w", encoding="utf-8")
        return serve(folder, reader, writer)
    except SystemExit as ended:  # the transport exits when nbgrader's side goes away
        return ended.code if isinstance(ended.code, int) else 0
    except BaseException:  # noqa: BLE001 - a checker must never return into the server's loop
        traceback.print_exc()
        return 1
    finally:
        sys.stderr.flush()


def serve(folder: Path, protocol_in, protocol_out) -> int:
    from dropout_kit.checking import CHECK_SEED_ENV
    from dropout_kit.checks.remote import Notebook, dumps, stdio_transport
    from dropout_kit.checks.runner import run_checks

    transport = stdio_transport(protocol_in, protocol_out)
    while True:
        line = protocol_in.readline()
        if not line:
            return 0
        message = json.loads(line)
        if "run" in message:
            if "seed" in message:  # read by dropout_kit.checking.check_seed (this checker serves one submission)
                os.environ[CHECK_SEED_ENV] = str(int(message["seed"]))
            result = run_checks(message["run"], Notebook(transport), folder)
            protocol_out.write(dumps({"result": result.as_data()}) + "\n")
            protocol_out.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

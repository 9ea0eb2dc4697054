"""Which submitted files a run read before writing them (dropout_kit.engine.file_reads),
watched from outside the reading process: here a child Python process stands for the kernel."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dropout_kit.engine.file_reads import FileReads, read_through


@pytest.fixture
def handed_in(tmp_path) -> Path:
    for name, text in {"settings.json": "{}", "dropout_net.pth": "old", "unused.txt": "x",
                       "data/rows.csv": "1,2", "dropout.ipynb": "{}"}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def run(folder: Path, code: str) -> None:
    subprocess.run([sys.executable, "-c", code], cwd=folder, check=True)


def test_reads_are_told_from_writes_cell_by_cell(handed_in):
    reads = FileReads(handed_in)
    run(handed_in, "open('settings.json').read()")
    reads.after_cell(1)
    run(handed_in, "open('dropout_net.pth', 'w').write('new'); open('dropout_net.pth').read()")
    reads.after_cell(2)
    run(handed_in, "import mmap; f = open('data/rows.csv', 'rb'); m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)")
    reads.after_cell(3)
    reads.close()
    data = reads.as_data()
    assert set(data["submitted"]) == {"settings.json", "dropout_net.pth", "unused.txt", "data/rows.csv"}
    assert read_through(data, 0) == {}
    assert set(read_through(data, 2)) == {"settings.json"}  # the checkpoint was written first
    assert set(read_through(data, 3)) == {"settings.json", "data/rows.csv"}  # mapped counts as read
    assert read_through(data, 3)["settings.json"] == data["submitted"]["settings.json"]


def test_without_a_watch_every_submitted_file_counts_as_read(handed_in):
    data = {**FileReads(handed_in).as_data(), "all_read_from": -1}
    assert set(read_through(data, 0)) == set(data["submitted"])
    assert read_through(None, 5) == {}

"""The course's secret for the checks' seeds (dropout_kit/engine/check_key.py)."""
from __future__ import annotations

import os
import stat

import pytest

from dropout_kit.checking import DEFAULT_CHECK_SEED
from dropout_kit.engine.check_key import KEY_FILE, course_check_key, submission_seed

SOURCES = ["xtr, ytr = x[:80], y[:80]", "def my_dropout(x, p, training=True):\n    ..."]


def test_the_key_is_made_once_readable_by_the_course_owner_only(tmp_path):
    key = course_check_key(tmp_path)
    assert len(bytes.fromhex(key)) == 32
    assert course_check_key(tmp_path) == key
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / KEY_FILE).parent.stat().st_mode) == 0o700
    assert course_check_key(tmp_path / "elsewhere") != key


def test_a_course_whose_key_cannot_be_read_or_made_has_none(tmp_path):
    (tmp_path / KEY_FILE).parent.mkdir()
    (tmp_path / KEY_FILE).write_text("not a key\n")
    assert course_check_key(tmp_path) == ""
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o500)
    if os.geteuid() != 0:  # root writes anyway
        assert course_check_key(read_only) == ""


def test_one_seed_per_submission_and_module_the_same_at_every_regrade():
    key = bytes(range(32))
    seed = submission_seed(key, SOURCES, "test_my_dropout_mask")
    assert seed == submission_seed(key, list(SOURCES), "test_my_dropout_mask")
    others = {submission_seed(key, SOURCES, "test_my_dropout_scale"),
              submission_seed(key, [SOURCES[0] + " ", SOURCES[1]], "test_my_dropout_mask"),
              submission_seed(bytes(32), SOURCES, "test_my_dropout_mask")}
    assert seed not in others and len(others) == 3
    assert 0 <= seed < 2 ** 63 and seed != DEFAULT_CHECK_SEED


@pytest.mark.parametrize("sources", [[], [""], ["한국어 변수 = 1"]])
def test_any_submission_gets_a_seed_torch_accepts(sources):
    import torch
    torch.manual_seed(submission_seed(b"k" * 32, sources, "test_split"))

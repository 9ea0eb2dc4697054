"""The class of the tampering round: the corpus (corpus.py), the forgeries of what the
kernel observes or reports (forgeries.py) and the attacks on the kernel's working folder
and on the replies' budget (working_folder.py), a cell that tells the checks' re-run from the
notebook's own run (told_apart.py), with the honest twins of all of them."""
from __future__ import annotations

from tampering import corpus, forgeries, told_apart, working_folder

CASES = (*corpus.CASES, *corpus.BEHIND_THE_RULE, *forgeries.FORGERIES, *working_folder.CASES,
         *told_apart.CASES)
HONEST = {**corpus.HONEST, **forgeries.TWINS, **told_apart.TWINS}
assert len({case.name for case in CASES}) == len(CASES), "case names must be unique"
assert all(case.honest in HONEST for case in CASES), "every case needs its honest twin"

"""Fuzz harnesses for every parser of outside input (issue 18 item 5): `targets.py` is the
table both the hypothesis tests (`tests/test_fuzz.py`) and `run.py` (atheris) drive."""

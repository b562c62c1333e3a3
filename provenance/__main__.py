"""`provenance` and `python -m provenance` from a checkout (or an editable install).

The command line's root is `cli.py` at the top of the repository. A wheel does not
carry this file: it installs `cli.py` itself as `provenance/__main__.py` (see
`pyproject.toml`), so that no top-level `cli` module is installed.
"""

from cli import main

if __name__ == "__main__":
    main()

"""Where the files that ship with the package live: migrations and rule packs.

In a checkout (and an editable install) they are the top-level `migrations/`
and `rules/` folders; a wheel carries them as `provenance/_migrations` and
`provenance/_rules` (see `pyproject.toml`, hatch `force-include`).
"""

from __future__ import annotations

from pathlib import Path

from provenance.errors import ConfigError

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The folder `migrations` or `rules`, wherever this installation keeps it."""
    for candidate in (_PACKAGE / f"_{name}", _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        f"the {name}/ folder is missing from this installation",
        hint="reinstall the package (pip install .)",
    )

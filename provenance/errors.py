"""One exception hierarchy for the whole library.

Every class carries the process exit code the CLI uses for it (docs/design.md,
"Errors and exit codes"), and an optional hint for the user. The library raises
these and nothing else reaches a caller: exceptions of the libraries underneath
(cryptography, pydantic, SQLAlchemy, yaml) are translated where they happen.

    0 ok, 1 compliance findings that block, 2 usage or invalid input,
    3 signature or authorisation failure, 4 ledger integrity failure, 5 not found
"""

from __future__ import annotations


class ProvenanceError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict[str, object]:
        """The error as a JSON-ready object (what `--json` prints)."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "hint": self.hint,
            "exit_code": self.exit_code,
        }


class InputError(ProvenanceError):
    """Malformed or invalid input: a file, a field, an option (exit 2)."""

    exit_code = 2


class MissingFileError(InputError):
    """An input file named on the command line that is not there (exit 2, as any bad
    input: a missing file is not a missing ledger record, which is exit 5)."""


class ConfigError(ProvenanceError):
    """The installation or the environment is not usable (exit 2)."""

    exit_code = 2


class SignatureError(ProvenanceError):
    """A signature is missing, malformed or does not verify (exit 3)."""

    exit_code = 3


class AuthorizationError(ProvenanceError):
    """The signer is unknown, revoked, or its role may not sign this (exit 3)."""

    exit_code = 3


class IntegrityError(ProvenanceError):
    """The ledger or a proof does not check out: tampering or corruption (exit 4)."""

    exit_code = 4


class NotFoundError(ProvenanceError):
    """A ledger, entry, party, shipment or serial that does not exist (exit 5)."""

    exit_code = 5

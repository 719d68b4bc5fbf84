"""Error types with messages that name the offending file or config key path."""

from __future__ import annotations


class DreemError(Exception):
    """Base class for user-facing errors (bad input or config); the CLI prints these cleanly."""


class ConfigError(DreemError, ValueError):
    """Invalid configuration; messages name the full key path (``model.embedding_meta.pos``)."""


class InputDataError(DreemError, ValueError):
    """Invalid or unreadable input data. Messages name the file."""


class ConfigWarning(UserWarning):
    """A config value that is accepted (an existing DREEM config must load unchanged) but has
    no effect here; the message names the key path and says why."""


class OutputError(DreemError, OSError):
    """An output could not be written (full disk, read-only folder). Messages name the file;
    nothing is left under the output's final name. ``OutputError(errno, message, path)``."""

    def __str__(self) -> str:
        return str(self.strerror) if self.strerror else super().__str__()


class IntegrityError(DreemError, RuntimeError):
    """A stage's result broke an invariant it guarantees (e.g. tracking lost or duplicated an
    instance). Nothing is written; this is a bug to report, not a problem with the input."""

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

"""Base classes of every config section: closed sections reject unknown keys, open ones keep
them as constructor kwargs (``extras()``)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section with known keys only (unknown keys are errors)."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, populate_by_name=True, use_enum_values=True
    )

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (YAML-safe apart from ``inf``), every key present."""
        return self.model_dump(mode="python", by_alias=False)

    def given(self) -> set[str]:
        """Keys given explicitly (not defaulted)."""
        return set(self.model_fields_set)


class OpenSection(Section):
    """A section whose unknown keys pass through as kwargs of the class it configures.

    ``OMIT_IF_NONE``: declared keys that are only passed on when given (``None`` = the
    configured class's own default); they are left out of :meth:`to_dict` and
    :meth:`kwargs` while ``None``. ``CONTROL``: declared keys that choose the class rather
    than configure it (left out of :meth:`kwargs`).
    """

    model_config = ConfigDict(extra="allow")
    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset()
    CONTROL: ClassVar[frozenset[str]] = frozenset()

    def extras(self) -> dict[str, Any]:
        """The keys this section does not declare (kwargs for the configured class)."""
        return dict(self.model_extra or {})

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        return {k: v for k, v in out.items() if not (k in self.OMIT_IF_NONE and v is None)}

    def kwargs(self) -> dict[str, Any]:
        """Constructor kwargs: declared non-control keys (minus omitted ones) and extras."""
        return {k: v for k, v in self.to_dict().items() if k not in self.CONTROL}

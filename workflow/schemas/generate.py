"""Regenerate config.schema.yaml from the library's pipeline schema (single source of truth).

    .venv/bin/python workflow/schemas/generate.py

tests/test_workflow.py fails when the committed file is out of date.
"""

from __future__ import annotations

from pathlib import Path

import yaml

HEADER = (
    "# GENERATED from dreem.config.pipeline.pipeline_json_schema() by\n"
    "# workflow/schemas/generate.py -- do not edit by hand.\n"
)
SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


def render() -> str:
    """The schema file's text."""
    from dreem.config.pipeline import pipeline_json_schema

    body = yaml.safe_dump(pipeline_json_schema(), sort_keys=False, width=100)
    return HEADER + body


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render())
    print(f"wrote {SCHEMA_PATH}")

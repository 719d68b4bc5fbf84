"""dreem.models."""

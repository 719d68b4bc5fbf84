"""dreem.utils."""

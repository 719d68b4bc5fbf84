"""dreem.data."""

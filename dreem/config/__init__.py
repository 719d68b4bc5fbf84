"""dreem.config."""

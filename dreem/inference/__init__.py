"""dreem.inference."""

"""dreem.io."""

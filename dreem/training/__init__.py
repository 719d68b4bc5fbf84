"""dreem.training."""

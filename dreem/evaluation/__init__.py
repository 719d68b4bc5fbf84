"""dreem.evaluation."""

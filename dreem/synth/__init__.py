"""dreem.synth."""

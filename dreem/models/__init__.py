"""dreem.models: the Global Tracking Transformer and its parts (import submodules; torch is
heavy)."""

"""dreem-pipeline: train Global Tracking Transformers and track animals and cells.

Imports are lazy: ``import dreem`` is cheap; heavy dependencies (torch, lightning,
sleap-io) load only in the modules that need them.
"""

__version__ = "0.1.0"

"""Crops and clips: crop geometry, extraction into shards, chunking, datasets, augmentations.

Modules (import them directly; nothing heavy is imported here): ``geometry``, ``extract``,
``clips``, ``dataset``, ``augment``.
"""

"""dreem.io: reading inputs and the crop shard format.

* :mod:`dreem.io.sources` — the uniform :class:`LabelSource` interface and ``open_source(row)``;
* :mod:`dreem.io.discover` — ``pair_files`` / ``discover_dataset`` / ``write_manifest``;
* readers: :mod:`~dreem.io.slp` (SLEAP + video), :mod:`~dreem.io.ctc` (Cell Tracking
  Challenge), :mod:`~dreem.io.table_source` with the parsers :mod:`~dreem.io.trackmate` and
  :mod:`~dreem.io.isbi_icy`; helpers :mod:`~dreem.io.video` (sequential decoding) and
  :mod:`~dreem.io.tiff_frames`;
* :mod:`dreem.io.shards` — the crop shard format.

Submodules are imported on demand so that ``import dreem`` stays fast.
"""

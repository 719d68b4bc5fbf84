"""Rule `demo`: generate the synthetic demo datasets (dreem.pipeline.jobs.demo_job)."""

from pathlib import Path

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.pipeline.jobs import demo_job

    p = snakemake.params  # noqa: F821
    info = demo_job(Path(snakemake.output.done).parent, p.seed, p.animals, p.cells)  # noqa: F821
    log.info("demo data: %s", info["files"])

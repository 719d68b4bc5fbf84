"""The pipeline: one plan per config (:mod:`dreem.pipeline.plan`), one function per job
(:mod:`dreem.pipeline.jobs`), run by Snakemake or in-process by the CLI
(:mod:`dreem.pipeline.run`). Nothing is imported here, so a job's code dependencies stay its
own (:mod:`dreem.pipeline.code`)."""

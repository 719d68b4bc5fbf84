"""Rule `aggregate`: all metrics CSVs -> summary table, figure and HTML report."""

from pathlib import Path

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.evaluation.aggregate import aggregate

    smk = snakemake  # noqa: F821
    out = aggregate(
        [Path(p) for p in smk.input.metrics],
        Path(smk.output.csv).parent,
        title=smk.params.title,
        videos=tuple(Path(p) for p in smk.input.videos),
        extra_figures=tuple(Path(p) for p in smk.input.curves),
    )
    log.info("summary: %s", out)

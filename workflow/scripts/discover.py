"""Rule `discover`: one dataset -> manifest.parquet (adapter for dreem.io.discover)."""

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.io.discover import discover_dataset, write_manifest

    df = discover_dataset(snakemake.params.name, snakemake.params.spec)  # noqa: F821
    write_manifest(df, snakemake.output.manifest)  # noqa: F821
    log.info("%d videos -> %s", len(df), snakemake.output.manifest)  # noqa: F821

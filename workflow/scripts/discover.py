"""Rule `discover`: one dataset -> manifest.parquet (adapter for dreem.io.discover)."""

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.io.discover import discover_dataset, write_manifest

    smk = snakemake  # noqa: F821
    df = discover_dataset(smk.params.name, smk.params.spec)
    found, expected = sorted(df["video_id"]), sorted(smk.params.video_ids["expected"])
    if found != expected:
        raise RuntimeError(
            f"datasets.{smk.params.name}: discovered videos {found} differ from the ones "
            f"planned when the workflow started {expected}; rerun snakemake"
        )
    write_manifest(df, smk.output.manifest)
    log.info("%d videos -> %s", len(df), smk.output.manifest)

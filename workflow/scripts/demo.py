"""Rule `demo`: generate the synthetic demo datasets (adapter for dreem.synth.generate_demo)."""

from pathlib import Path

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.synth import generate_demo

    smk = snakemake  # noqa: F821
    out_dir = Path(smk.output.done).parent
    demo = smk.params.demo
    info = generate_demo(
        out_dir, seed=smk.params.seed, animals=demo.get("animals"), cells=demo.get("cells")
    )
    log.info("demo data in %s: %s", out_dir, info)

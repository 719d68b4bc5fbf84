"""Rule `train`: shards + DREEM config -> models/{model}/train/ (dreem.pipeline.jobs.train_job),
recorded in MLflow unless the config's mlflow.enabled is false."""

from pathlib import Path

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    import torch

    from dreem.pipeline.mlflow_log import recorded_training, settings_from_config

    smk = snakemake  # noqa: F821
    torch.set_num_threads(max(1, int(smk.threads)))
    out_dir = Path(smk.output.best).parent
    result = recorded_training(
        settings_from_config(smk.config),
        smk.wildcards.model,
        smk.params.train,
        smk.params.code,
        smk.input.train,
        smk.input.val,
        out_dir,
    )
    log.info("trained: %s", result)

"""Rule `train`: shards + DREEM config -> models/{model}/train/ (dreem.pipeline.jobs.train_job),
recorded in MLflow unless the config's mlflow.enabled is false."""

from pathlib import Path

from _common import logged

with logged(snakemake) as log:  # noqa: F821
    from dreem.pipeline.mlflow_log import (
        closed_on_error,
        open_record,
        recorded_training,
        settings_from_config,
    )

    smk = snakemake  # noqa: F821
    mlflow = settings_from_config(smk.config)
    record = open_record(mlflow)  # MLflow starts up while this job imports torch

    from dreem.utils.process import paused_collection

    with closed_on_error(record), paused_collection():  # start-up: imports, the plan
        import torch

        from dreem.config.pipeline import load_pipeline_config
        from dreem.pipeline.plan import Plan

        torch.set_num_threads(max(1, int(smk.threads)))
        # the model's own tracker for validation tracking (not a param: see the Plan)
        val_tracker = Plan(load_pipeline_config(dict(smk.config))).validation_tracker(
            smk.wildcards.model
        )
    result = recorded_training(
        mlflow,
        smk.wildcards.model,
        smk.params.train,
        smk.params.code,
        smk.input.train,
        smk.input.val,
        Path(smk.output.best).parent,
        val_tracker=val_tracker,
        record=record,
    )
    log.info("trained: %s", result)

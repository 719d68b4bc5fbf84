# Train one GTR model on the shards of its train/val datasets. Not a per-video job.
# Resume state lives in models/{model}/checkpoints/ (not an output, so Snakemake never
# deletes it); the script discards it when params or input shards changed.


rule train:
    input:
        train=lambda wc: shards(MODELS[wc.model].get("train") or []),
        val=lambda wc: shards(MODELS[wc.model].get("val") or []),
    output:
        best=f"{OUT}/models/{{model}}/best.ckpt",
        last=f"{OUT}/models/{{model}}/last.ckpt",
        metrics=f"{OUT}/models/{{model}}/metrics.csv",
        config=f"{OUT}/models/{{model}}/config.yaml",
        curves=report(
            f"{OUT}/models/{{model}}/curves.png",
            category="Training",
            labels={"model": "{model}", "file": "training curves"},
        ),
    params:
        cfg=lambda wc: train_cfg(wc.model),
        train_datasets=lambda wc: {"train": MODELS[wc.model].get("train") or [],
                                   "val": MODELS[wc.model].get("val") or []},
        seed=SEED,
        code=code_param("train"),
    log:
        log_path("train", "{model}"),
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=lambda wc, attempt: 240 * attempt,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/train.py"

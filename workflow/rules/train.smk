# Train one GTR model on the shards of its train/val datasets, then publish best.ckpt with
# the model's current config. Training state (checkpoints/, logs/) lives in train/; a rerun
# resumes only an interrupted run of the same params and inputs.


rule train:
    input:
        train=lambda wc: PLAN.train_shards(wc.model, "train"),
        val=lambda wc: PLAN.train_shards(wc.model, "val"),
    output:
        best=f"{OUT}/models/{{model}}/train/best.ckpt",
        metrics=f"{OUT}/models/{{model}}/train/metrics.csv",
        curves=report(
            f"{OUT}/models/{{model}}/train/curves.png",
            caption="../report/curves.rst",
            category="Training",
            labels={"model": "{model}", "file": "training curves"},
        ),
    params:
        train=lambda wc: PLAN.train_params(wc.model),
        code=code("train_job", "train.py"),
    log:
        log_path("train", "{model}"),
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: 8000 * attempt,
        runtime=lambda wc, attempt: 240 * attempt,
        cpus_per_task=lambda wc, threads: threads,
        gpu=lambda wc: PLAN.train_gpus(wc.model) or None,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/train.py"


rule publish:
    input:
        trained=f"{OUT}/models/{{model}}/train/best.ckpt",
    output:
        ckpt=f"{OUT}/models/{{model}}/best.ckpt",
    params:
        cfg=lambda wc: PLAN.publish_config(wc.model),
        code=code("publish_job", "publish.py"),
    log:
        log_path("publish", "{model}"),
    resources:
        mem_mb=lambda wc, attempt: 2000 * attempt,
        runtime=lambda wc, attempt: 10 * attempt,
        cpus_per_task=lambda wc, threads: threads,
    conda:
        "../../envs/dreem.yaml"
    script:
        "../scripts/publish.py"

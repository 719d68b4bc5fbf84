# Synthetic demo data (animals .slp + .mp4, cells in CTC layout) into demo.out_dir.
# DONE.json is written last and atomically; the demo datasets' jobs take it as input.

if PLAN.cfg.demo.enabled:

    rule demo:
        output:
            done=f"{PLAN.cfg.demo.out_dir.rstrip('/')}/DONE.json",
        params:
            seed=SEED,
            animals=PLAN.cfg.demo.animals,
            cells=PLAN.cfg.demo.cells,
            code=code("demo_job", "demo.py"),
        log:
            log_path("demo"),
        resources:
            mem_mb=lambda wc, attempt: 2000 * attempt,
            runtime=lambda wc, attempt: 30 * attempt,
            cpus_per_task=lambda wc, threads: threads,
        conda:
            "../../envs/dreem.yaml"
        script:
            "../scripts/demo.py"

# Synthetic demo data (animals .slp + .mp4, cells in CTC layout) into demo.out_dir.
# DONE.json is written last and atomically; the demo datasets' jobs take it as input.

if DEMO_ENABLED:

    rule demo:
        output:
            done=DEMO_DONE,
        params:
            seed=SEED,
            demo={k: DEMO.get(k) for k in DEMO_KINDS},
            code=code_param("demo"),
        log:
            log_path("demo"),
        resources:
            mem_mb=lambda wc, attempt: 2000 * attempt,
            runtime=lambda wc, attempt: 30 * attempt,
        conda:
            "../../envs/dreem.yaml"
        script:
            "../scripts/demo.py"

#!/usr/bin/env bash
# The GPU path in one prepared script: install into a fresh virtualenv, train the benchmark
# config (resnet18, d_model 128, crop 128, clip 32) with mixed precision on one CUDA GPU,
# track with the trained model, and print one table of figures (bench/gpu_bench.py).
# Planned to finish in under 8 minutes on one H200 (install ~2 min online, data ~1 min,
# encoder limit, 4 training epochs of 8,192 instances, tracking 2 clips).
#
#   bench/gpu.sh                          # CUDA machine with internet: venv + pip install
#   bench/gpu.sh --reuse-torch            # venv on top of an installed torch/lightning/timm
#   bench/gpu.sh --reuse-torch --wheels DIR   # offline: the missing packages as wheels in DIR
#   bench/gpu.sh --python PY --no-install # an environment that already has the project
#   bench/gpu.sh --cpu-smoke [--python PY] [--install]   # dry run of every step, tiny, on a CPU
#
# Other options: --work DIR (default /tmp/dreem_gpu), --venv DIR (default WORK/venv),
# --precision P (default bf16-mixed), and anything after `--` goes to gpu_bench.py
# (e.g. -- --epochs 6 --workers 8). Figures: WORK/gpu_bench.json and the printed table.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK=/tmp/dreem_gpu
VENV=""
PY=""
INSTALL=1
REUSE=0
WHEELS=""
SMOKE=0
PRECISION=bf16-mixed
EXTRA=()

while [[ $# -gt 0 ]]; do
  case "$1" in
    --cpu-smoke) SMOKE=1; INSTALL=0 ;;
    --install) INSTALL=1 ;;
    --no-install) INSTALL=0 ;;
    --reuse-torch) REUSE=1 ;;
    --wheels) WHEELS="$2"; shift ;;
    --work) WORK="$2"; shift ;;
    --venv) VENV="$2"; shift ;;
    --python) PY="$2"; shift ;;
    --precision) PRECISION="$2"; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "gpu.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

mkdir -p "$WORK"
T0=$(date +%s)
say() { echo "[gpu.sh $(( $(date +%s) - T0 )) s] $*"; }

# 1. install ------------------------------------------------------------------------------
if [[ $INSTALL -eq 1 ]]; then
  VENV="${VENV:-$WORK/venv}"
  BASE="${PY:-$(command -v python3.12 || command -v python3.11 || command -v python3)}"
  say "fresh virtualenv $VENV from $BASE"
  rm -rf "$VENV"
  if [[ $REUSE -eq 1 ]]; then
    "$BASE" -m venv --system-site-packages "$VENV"
  else
    "$BASE" -m venv "$VENV"
  fi
  PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
  if [[ -n "$WHEELS" ]]; then
    PIP+=(--no-index --find-links "$WHEELS")
  fi
  say "pip install -e $ROOT"
  "${PIP[@]}" -e "$ROOT"
  PY="$VENV/bin/python"
else
  if [[ -z "$PY" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
  fi
fi
say "python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

# 2. the device ---------------------------------------------------------------------------
ARGS=(--work "$WORK" --precision "$PRECISION")
if [[ $SMOKE -eq 1 ]]; then
  ARGS+=(--cpu-smoke)
  say "CPU smoke run: every step, tiny (checks the script, not the speed)"
else
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
    --format=csv,noheader || true
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else \
'no CUDA device visible to torch: run on a GPU machine, or use --cpu-smoke')"
fi

# 3. data, encoder limit, training, tracking, table ---------------------------------------
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 NO_ALBUMENTATIONS_UPDATE=1
"$PY" "$ROOT/bench/gpu_bench.py" "${ARGS[@]}" "${EXTRA[@]}"
say "done"

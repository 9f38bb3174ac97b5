#!/usr/bin/env bash
# The GPU figures issue 15 still lacks, in one bounded command (a lent GPU's time is short):
# the step cost of e2eaug beside the separate pipeline at 128 px and at the paper preset's
# sizes, in fp32 and engine.precision=bf16, then the bf16 hypergradient accuracy on CUDA.
#   OUT=DIR bash benchmarks/gpu_precision.sh     # each part under `timeout` (570 s in all); tables in $OUT
# DEVICE=cpu SMALL=16 runs the same commands at toy sizes on a CPU (a check of the script; the
# paper widths need LARGE=256, 2**depth of their generator).
set -uo pipefail
out=${OUT:-runs/gpu_precision}
device=${DEVICE:-cuda}
small=${SMALL:-128}
large=${LARGE:-256}
mkdir -p "$out"
cases=e2eaug-identity,e2eaug-darts_shared,gan_joint,none
paper=(--set "augmenter.generator.kwargs={depth: 8, base_width: 64}"
       --set "augmenter.discriminator.kwargs={base_width: 64, n_layers: 3, norm: instance}"
       --set "seg.segmenter.kwargs={depth: 4, base_width: 64, norm: batch}"
       --set augmenter.batch_size=4 --set seg.batch_size=4 --set arch.batch_size=4)
for precision in fp32 bf16; do
  timeout 90 python -m benchmarks.step_cost --device "$device" --size "$small" --cases "$cases" \
    --set engine.precision=$precision --json "$out/step${small}_$precision.json" > "$out/step${small}_$precision.md"
  timeout 120 python -m benchmarks.step_cost --device "$device" --size "$large" --cases e2eaug-identity,gan_joint \
    "${paper[@]}" --set engine.precision=$precision --json "$out/paper_$precision.json" > "$out/paper_$precision.md"
done
timeout 60 python -m benchmarks.profile_step --device "$device" --size "$small" --set engine.precision=bf16 \
  > "$out/profile${small}_bf16.txt"
timeout 90 python -m benchmarks.hypergrad_default --seeds 0 --states 2 --every 5 --alphas 1e-2 \
  --precisions fp32 bf16 bf16_hops --set engine.device="$device" --set augmenter.pretrain_steps=20 \
  --out "$out/hypergrad_$device"
tail -n 8 "$out"/*.md

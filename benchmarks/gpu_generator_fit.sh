#!/usr/bin/env bash
# The first check the method study (issue 12) asks of a GPU: does a GAN trained at the paper's
# resolution and widths render lung masks it never saw, where the CPU-sized ones memorise their
# 9 pairs (benchmarks/results/study/README.md)? Separately trained GANs (pix2pix) on JSRT with 9
# training images, 2000 steps, at 128 px with the paper preset's generator and discriminator
# widths (its generator reaches 1x1, as the paper's 8 levels do at 256 px), then
# benchmarks.generator_fit on them, in one bounded command (each run under `timeout`, about
# 9 min in all). A validation error clearly below both references is needed before the paper
# profile's segmentation grid is worth running, though it is no guarantee (a smoother generator
# can score lower and still make worse pairs: study README, `depth/`). A run cut off by its
# timeout writes no checkpoint; its log gives the speed reached.
#   OUT=DIR DATA=path/to/jsrt bash benchmarks/gpu_generator_fit.sh   # generator_fit.csv/.png in DIR
#   SIZES=256 SEEDS=0 ... the paper's own resolution, when device time is left
# DEVICE=cpu SIZES=32 STEPS=5 DEPTH=3 WIDTH=8 checks the script on a CPU.
set -uo pipefail
out=${OUT:-runs/gpu_generator_fit}
data=${DATA:-../shared/data/jsrt}
device=${DEVICE:-cuda}
steps=${STEPS:-2000}
seeds=${SEEDS:-0 1 2}
width=${WIDTH:-64}
mkdir -p "$out"
for size in ${SIZES:-128}; do
  depth=${DEPTH:-$(python3 -c "import math; print(int(math.log2($size)))")}  # down to 1x1, as the paper's
  for seed in $seeds; do
    timeout "${RUN_TIMEOUT:-165}" python3 -m e2eaug train --config jsrt --set data.root="$data" --set data.n_train=9 \
      --set data.image_size="$size" --set seed="$seed" --set engine.device="$device" \
      --set augmenter.name=pix2pix --set augmenter.pretrain_steps="$steps" \
      --set "augmenter.generator.kwargs={depth: $depth, base_width: $width}" \
      --set "augmenter.discriminator.kwargs={base_width: $width, n_layers: 3, norm: instance}" \
      --set engine.train_iters=1 --set engine.valid_every=1 \
      --set out_dir="$out/runs" --set name="fit${size}" > "$out/train_${size}_s${seed}.log" 2>&1 \
      || echo "fit${size} seed ${seed}: exit $? (see $out/train_${size}_s${seed}.log)"
  done
done
runs=$(ls -d "$out"/runs/fit*/ 2>/dev/null | while read -r d; do [ -f "$d/last.pt" ] && echo "$d"; done)
[ -n "$runs" ] || { echo "no finished run under $out/runs"; exit 1; }
timeout 60 python3 -m benchmarks.generator_fit $runs --out "$out/generator_fit.csv" --figure "$out/generator_fit.png"

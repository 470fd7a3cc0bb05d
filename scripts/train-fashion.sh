#!/usr/bin/env bash
# The main job: train 784-100-10 on Fashion-MNIST, print progress and the
# test accuracy, and write the model, a training log and a report to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
nabla=build/release/nabla
mkdir -p out
"$nabla" train --data fashion-mnist --model "dense:100,relu,dense:10" \
    --optimizer sgd --lr 0.1 --batch 100 --epochs 5 --seed 1 \
    --out out/model.safetensors --log out/train.jsonl --report out/report.html
"$nabla" info out/model.safetensors
echo "model: out/model.safetensors  log: out/train.jsonl  report: out/report.html"

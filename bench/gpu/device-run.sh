#!/usr/bin/env bash
# One call on a lent GPU machine (no Maven, no Java, no network there): probe the machine, build
# DJL's JNI library against the machine's torch wheel (build-djl-jni.sh), time GradientLearner on
# the GPU and the CPU through DJL (run-djl.sh, GpuAdaptation), then time the PyTorch reference of
# the same maths (adaptation_reference.py). Everything it needs sits beside it, as stage.sh lays it out.
# Writes device reports to $OUT (gpu-h200-reference.json, gpu-h200-djl.json, jni-build.log).
set -u
G=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
DEADLINE=$((SECONDS + ${BUDGET_S:-520}))
left() { echo $((DEADLINE - SECONDS)); }

echo "== probe"
date -u; uname -r; nproc; free -g | head -2
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
command -v java g++ gcc cmake nvcc python3 || true
g++ --version | head -1
PY=$(command -v python3)
TORCH=$($PY -c 'import torch, os; print(os.path.dirname(torch.__file__))')
VERSION=$($PY -c 'import torch; print(torch.__version__.split("+")[0])')
CUDA=$($PY -c 'import torch; print(torch.version.cuda or "")')
ABI=$($PY -c 'import torch; print(int(torch.compiled_with_cxx11_abi()))')
FLAVOR=cpu; [[ -n "$CUDA" ]] && FLAVOR=cu${CUDA//./}
echo "torch $VERSION at $TORCH, cuda $CUDA, flavor $FLAVOR, cxx11 abi $ABI"
ls "$TORCH/lib"
find "$(dirname "$TORCH")/nvidia" -name 'libcudart.so*' 2>/dev/null

echo "== JNI build ($(left) s left)"
JNILIB=/tmp/libdjl_torch.so
time JOBS=$(nproc) timeout 240 "$G/build-djl-jni.sh" "$TORCH" "$G/djl" "$G/jni-include" "$JNILIB" "$ABI" \
  > "$OUT/jni-build.log" 2>&1
rc=$?
echo "jni build rc=$rc"; tail -30 "$OUT/jni-build.log"
if [[ $rc == 0 ]]; then

  echo "== DJL on $FLAVOR ($(left) s left)"
  JAVA=$(command -v java || true)
  tar -xJf "$G/jre17.tar.xz" -C /tmp && JAVA=/tmp/jre17/bin/java
  "$JAVA" -version 2>&1 | head -1
  CP=$(ls "$G"/lib/*.jar | tr '\n' ':')
  timeout $(( $(left) - ${REFERENCE_S:-110} )) "$G/run-djl.sh" "$JAVA" "$CP" "$TORCH" "$VERSION" "$FLAVOR" "$JNILIB" /tmp/djlcache \
    --devices gpu,cpu --gpu-batches "${GPU_BATCHES:-1,4,16,64,256,1024,2048,4096,8192,16384,65536}" \
    --cpu-batches "${CPU_BATCHES:-1,4,16,64,256,1024,4096}" --warmup-ms 1000 --iterations 3 --iteration-ms 1000 \
    --report "$OUT/gpu-h200-djl.json"
  rc=$?
  echo "djl rc=$rc ($(left) s left)"
  if [[ $rc != 0 && $(left) -gt $(( ${REFERENCE_S:-110} + 90 )) ]]; then
    # Fallback: let the dynamic loader find every CUDA library of the wheel by LD_LIBRARY_PATH in
    # case DJL's one-by-one System.load missed one its RPATH does not reach.
    echo "== DJL on $FLAVOR again, with LD_LIBRARY_PATH ($(left) s left)"
    LD_LIBRARY_PATH=$(find "$(dirname "$TORCH")/nvidia" -type d -name lib 2>/dev/null | tr '\n' ':')$TORCH/lib:${LD_LIBRARY_PATH:-} \
      timeout $(( $(left) - ${REFERENCE_S:-110} )) "$G/run-djl.sh" "$JAVA" "$CP" "$TORCH" "$VERSION" "$FLAVOR" "$JNILIB" /tmp/djlcache2 \
      --devices gpu --gpu-batches 1,16,256,1024,4096,16384 --warmup-ms 500 --iterations 3 --iteration-ms 700 \
      --report "$OUT/gpu-h200-djl-retry.json"
    echo "djl retry rc=$? ($(left) s left)"
fi
fi

# Last, so that it adapts from the base GpuAdaptation meta-trained (its report's baseParameters):
# from a random base most tasks diverge to inf and NaN, which is not the project's arithmetic.
if [[ "${SKIP_REFERENCE:-0}" != 1 ]]; then
  echo "== PyTorch reference ($(left) s left)"
  BASE_ARG=()
  [[ -s "$OUT/gpu-h200-djl.json" ]] && BASE_ARG=(--base-report "$OUT/gpu-h200-djl.json")
  PYTHONUNBUFFERED=1 timeout $(( $(left) - 5 )) "$PY" "$G/adaptation_reference.py" "${BASE_ARG[@]}" \
    --report "$OUT/gpu-h200-reference.json"
  echo "reference rc=$? ($(left) s left)"
fi
nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv

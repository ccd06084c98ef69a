#!/usr/bin/env bash
# Builds DJL 0.35.1's PyTorch JNI library (libdjl_torch.so) against an installed libtorch, e.g. the
# torch wheel of a Python venv, for DJL's PYTORCH_LIBRARY_PATH override. DJL publishes that library
# only for the libtorch versions it pins (2.7.1 for 0.35.1); a CUDA build for another libtorch has
# to be compiled. Plain g++ instead of the sources' CMakeLists: find_package(Torch) of a CUDA wheel
# wants a full CUDA toolkit and cuDNN headers, and the JNI sources need only the headers.
#   $1 torch package dir (holds include/ and lib/)   $2 DJL source dir (git archive of v0.35.1:
#   engines/pytorch/pytorch-native/src, api/src/main/native, plus the generated JNI header in jnih/)
#   $3 jni.h include dir (holds jni.h and linux/jni_md.h)   $4 output .so   [$5 cxx11 abi 0|1]
set -euo pipefail
TORCH=$1 DJL=$2 JNI=$3 OUT=$4 ABI=${5:-1}
SRC=$DJL/engines/pytorch/pytorch-native/src/main/native
OBJ=$(mktemp -d)
pids=()
for f in "$SRC"/*.cc; do
  g++ -std=c++17 -O2 -fPIC -w -D_GLIBCXX_USE_CXX11_ABI="$ABI" \
    -I"$DJL/jnih" -I"$DJL/api/src/main/native" -I"$JNI" -I"$JNI/linux" \
    -I"$TORCH/include" -I"$TORCH/include/torch/csrc/api/include" \
    -c "$f" -o "$OBJ/$(basename "$f" .cc).o" &
  pids+=($!)
  if (( ${#pids[@]} >= ${JOBS:-4} )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p"; done
g++ -shared -o "$OUT" "$OBJ"/*.o -L"$TORCH/lib" -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10 \
  -Wl,-rpath,'$ORIGIN'
rm -rf "$OBJ"
echo "built $OUT"

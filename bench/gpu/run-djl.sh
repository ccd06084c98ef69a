#!/usr/bin/env bash
# Runs io.metastream.bench.GpuAdaptation on DJL 0.35.1 with an external libtorch (a torch wheel's
# lib/ folder) and a libdjl_torch.so built for it by build-djl-jni.sh.
#   $1 java binary  $2 classpath  $3 torch package dir  $4 torch version (x.y.z)  $5 flavor (cpu, cu130)
#   $6 libdjl_torch.so  $7 cache dir to create  then GpuAdaptation's own options
set -euo pipefail
JAVA=$1 CP=$2 TORCH=$3 VERSION=$4 FLAVOR=$5 JNILIB=$6 CACHE=$7
shift 7
# DJL looks for the JNI library in <ENGINE_CACHE_DIR>/pytorch/<version>-<flavor>-<classifier>/ under
# <djl version>-libdjl_torch.so before it would download one (LibUtils.findJniLibrary).
mkdir -p "$CACHE/pytorch/$VERSION-$FLAVOR-linux-x86_64"
cp "$JNILIB" "$CACHE/pytorch/$VERSION-$FLAVOR-linux-x86_64/0.35.1-libdjl_torch.so"
# DJL's GPU count (Engine.getGpuCount, so DjlRuntime.defaultDevice) asks libcudart through JNA by its
# unversioned name, which a wheel does not ship: point JNA at a link to the wheel's versioned one.
JNA_DIR=$CACHE/cudart
mkdir -p "$JNA_DIR"
CUDART=$(find "$(dirname "$TORCH")"/nvidia "$TORCH/lib" -name 'libcudart.so*' 2>/dev/null | sort | tail -1 || true)
if [[ -n "$CUDART" ]]; then ln -sf "$CUDART" "$JNA_DIR/libcudart.so"; fi
export PYTORCH_LIBRARY_PATH=$TORCH/lib PYTORCH_VERSION=$VERSION PYTORCH_FLAVOR=$FLAVOR ENGINE_CACHE_DIR=$CACHE
# Test and plugin libraries of the wheel that DJL would otherwise System.load one by one.
export PYTORCH_LIBRARY_EXCLUSION=libaoti_custom_ops.so,libbackend_with_compiler.so,libjitbackend_test.so,libtorchbind_test.so,libshm.so
exec "$JAVA" -Dai.djl.offline=true -Djna.library.path="$JNA_DIR" -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
  -cp "$CP" io.metastream.bench.GpuAdaptation "$@"

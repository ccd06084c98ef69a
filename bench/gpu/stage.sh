#!/usr/bin/env bash
# Lays out in $1 everything device-run.sh needs on a machine without Maven or Java: the scripts,
# a jlinked Java 17 runtime (xz), the run-time jars of GpuAdaptation (no pytorch-native jar: the
# machine's torch wheel replaces it), DJL 0.35.1's JNI sources with their generated header, and jni.h.
#   $1 target folder   $2 a git clone of deepjavalibrary/djl (tag v0.35.1 is read from it)
# Run from the repository root after `mvn -B -q -o -pl bench -am package -DskipTests`.
set -euo pipefail
T=$1 DJL_GIT=$2
JDK=${JDK:-/usr/lib/jvm/java-17-openjdk-amd64}
M=${M2_REPO:-$HOME/.m2/repository}
rm -rf "$T" && mkdir -p "$T/lib" "$T/djl/jnih" "$T/jni-include/linux"
cp bench/gpu/*.sh bench/gpu/*.py "$T/"
git -C "$DJL_GIT" archive v0.35.1 engines/pytorch/pytorch-native/src/main/native api/src/main/native \
  engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java | tar -x -C "$T/djl"
"$JDK/bin/javac" -cp "$M/ai/djl/api/0.35.1/api-0.35.1.jar:$M/ai/djl/pytorch/pytorch-engine/0.35.1/pytorch-engine-0.35.1.jar" \
  -h "$T/djl/jnih" -d "$(mktemp -d)" "$T/djl/engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java"
cp "$JDK/include/jni.h" "$T/jni-include/" && cp "$JDK/include/linux/jni_md.h" "$T/jni-include/linux/"
for j in ai/djl/api/0.35.1/api-0.35.1.jar ai/djl/pytorch/pytorch-engine/0.35.1/pytorch-engine-0.35.1.jar \
    com/google/code/gson/gson/2.13.1/gson-2.13.1.jar net/java/dev/jna/jna/5.17.0/jna-5.17.0.jar \
    com/fasterxml/jackson/core/jackson-databind/2.19.2/jackson-databind-2.19.2.jar \
    com/fasterxml/jackson/core/jackson-annotations/2.19.2/jackson-annotations-2.19.2.jar \
    com/fasterxml/jackson/core/jackson-core/2.19.2/jackson-core-2.19.2.jar \
    org/slf4j/slf4j-api/2.0.17/slf4j-api-2.0.17.jar org/slf4j/slf4j-simple/2.0.17/slf4j-simple-2.0.17.jar \
    org/apache/commons/commons-compress/1.27.1/commons-compress-1.27.1.jar \
    commons-io/commons-io/2.16.1/commons-io-2.16.1.jar commons-codec/commons-codec/1.17.1/commons-codec-1.17.1.jar; do
  cp "$M/$j" "$T/lib/"
done
cp meta-learn/target/metastream-meta-learn-*.jar "$T/lib/"
"$JDK/bin/jar" cf "$T/lib/bench-classes.jar" -C bench/target/classes .
JRE=$(mktemp -d)/jre17
"$JDK/bin/jlink" --add-modules java.base,java.management,java.logging,java.xml,java.sql,java.naming,jdk.unsupported,jdk.management \
  --strip-debug --strip-native-debug-symbols objcopy=/usr/bin/objcopy --no-header-files --no-man-pages --compress=2 --output "$JRE"
tar -cJf "$T/jre17.tar.xz" -C "$(dirname "$JRE")" jre17
du -sh "$T"

#!/usr/bin/env bash
# Builds the image and runs compose.yaml (a KRaft broker and metastream), meta-training a first
# base into the model volume when it holds none, then waits until the app is ready.
#   docker/up.sh               broker + app
#   docker/up.sh --monitoring  also Prometheus (localhost:9090) and Grafana (localhost:3000)
# Needs a Docker engine; without one it says so and exits 2 (CI checks the files instead:
# DockerConfigTest).
set -euo pipefail
cd "$(dirname "$0")/.."
compose=(docker compose -f docker/compose.yaml)
if [[ "${1:-}" == "--monitoring" ]]; then
  compose+=(--profile monitoring)
fi
if ! docker info > /dev/null 2>&1; then
  echo "docker/up.sh: no Docker engine answers here ('docker info' failed); start one, or run the embedded demo:" >&2
  echo "  java -jar stream-app/target/metastream.jar demo" >&2
  exit 2
fi
if [[ ! -f stream-app/target/metastream.jar ]]; then
  mvn -B -q -pl stream-app -am package -DskipTests
fi
"${compose[@]}" build
# The app serves a published base and does not train one: publish one once, on the volume.
if ! "${compose[@]}" run --rm --no-deps metastream models list --store /data/models 2> /dev/null | grep -q sinusoid; then
  echo "no base model on the volume yet: meta-training one (a few minutes on CPU)"
  "${compose[@]}" run --rm --no-deps metastream train sinusoid --store /data/models --promote production
fi
"${compose[@]}" up -d
for _ in $(seq 1 90); do
  if curl -fsS http://localhost:8080/ready > /dev/null 2>&1; then
    echo "metastream is ready: http://localhost:8080/ready, /metrics, /tasks/{id}"
    exit 0
  fi
  sleep 2
done
echo "metastream did not become ready within 180 s; logs follow" >&2
"${compose[@]}" logs --tail 100 metastream >&2
exit 1

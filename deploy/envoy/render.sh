#!/usr/bin/env bash
# Prints envoy.yaml with its ${NAME} placeholders filled: from the environment when set,
# else from defaults.env. Only the placeholders listed in defaults.env are substituted.
#   deploy/envoy/render.sh > /etc/envoy/envoy.yaml
#   AUTHZ_HOST=127.0.0.1 UPSTREAM_PORT=3000 deploy/envoy/render.sh > envoy.yaml
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
names=()
while IFS='=' read -r name value; do
  case "$name" in ''|\#*) continue ;; esac
  names+=("\${$name}")
  if [ -z "${!name:-}" ]; then export "$name=$value"; else export "$name"; fi
done < "$here/defaults.env"
envsubst "${names[*]}" < "$here/envoy.yaml"

#!/usr/bin/env bash
# What the benchmark needs beyond the test bed (scripts/testbed-prereqs.sh): Debian's
# ansible-core, the tool it is compared with. Kept here, not in testbed-prereqs.sh, because CI
# runs that one and never runs the benchmark. Idempotent; needs root.
set -euo pipefail
if ! command -v ansible-playbook >/dev/null; then
  echo "installing ansible-core"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ansible-core >/dev/null
fi

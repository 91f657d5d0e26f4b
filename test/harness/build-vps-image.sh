#!/usr/bin/env bash
# Builds the "freshly rented VPS" image the tests run against: a Debian 12 minbase with sshd as
# PID 1, cron and sudo, like a provider hands over. Host keys are made per container at start
# (the image ships none), so every test host has its own identity, as real ones do.
# Usage: build-vps-image.sh IMAGE_TAG   (no-op when the tag exists already)
set -euo pipefail
tag=${1:?image tag}
if docker image inspect "$tag" >/dev/null 2>&1; then exit 0; fi

root=$(mktemp -d /tmp/hoist-vps-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase \
  --include=openssh-server,cron,ca-certificates,sudo,curl,procps,iproute2 \
  bookworm "$root" http://deb.debian.org/debian >/tmp/hoist-debootstrap.log 2>&1 \
  || { tail -30 /tmp/hoist-debootstrap.log >&2; exit 1; }

rm -f "$root"/etc/ssh/ssh_host_*
cat >"$root/usr/local/sbin/hoist-test-init" <<'INIT'
#!/bin/sh
# PID 1 of a test VPS: fresh host keys, the provider's key for root, cron, then sshd.
set -e
mkdir -p /run/sshd
ssh-keygen -A >/dev/null
if [ -n "${HOIST_TEST_ROOT_KEY:-}" ]; then
  mkdir -p /root/.ssh && chmod 700 /root/.ssh
  printf '%s\n' "$HOIST_TEST_ROOT_KEY" >/root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
fi
unset HOIST_TEST_ROOT_KEY
cron
exec /usr/sbin/sshd -D -e
INIT
chmod 755 "$root/usr/local/sbin/hoist-test-init"
rm -rf "$root"/var/cache/apt/archives/*.deb

tar -C "$root" -c . | docker import \
  --change 'CMD ["/usr/local/sbin/hoist-test-init"]' \
  --change 'EXPOSE 22' - "$tag" >/dev/null

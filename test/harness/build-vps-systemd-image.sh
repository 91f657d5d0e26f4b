#!/usr/bin/env bash
# Builds a "freshly rented VPS" image with systemd as PID 1, as every rented VPS has: Debian
# SUITE (bookworm = 12, trixie = 13) minbase plus systemd, dbus, sshd, cron, sudo and curl, with
# ssh and cron enabled. Provider style: root logs in with the provider's key and password logins
# are on (Debian's sshd defaults). `docker restart` of a host made from it is a reboot.
# Usage: build-vps-systemd-image.sh SUITE IMAGE_TAG   (no-op when the tag exists already)
set -euo pipefail
suite=${1:?suite (bookworm or trixie)}
tag=${2:?image tag}
if docker image inspect "$tag" >/dev/null 2>&1; then exit 0; fi

root=$(mktemp -d /tmp/hoist-vps-systemd-root.XXXXXX)
log=$root.log
cleanup() {
  umount "$root/proc" 2>/dev/null || true
  rm -rf "$root" "$log"
}
trap cleanup EXIT
# bookworm's debootstrap cannot --include packages into trixie (systemd's pre-depends): a bare
# minbase first, then apt-get inside it.
debootstrap --variant=minbase "$suite" "$root" http://deb.debian.org/debian >"$log" 2>&1 \
  || { tail -30 "$log" >&2; exit 1; }

# No service may start on this machine while packages are installed in the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mount --bind /proc "$root/proc"
chroot "$root" sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  systemd systemd-sysv dbus openssh-server cron ca-certificates sudo curl procps iproute2' >>"$log" 2>&1 \
  || { tail -30 "$log" >&2; exit 1; }
umount "$root/proc"
rm -f "$root/usr/sbin/policy-rc.d"

rm -f "$root"/etc/ssh/ssh_host_*
# First boot of a rented VPS: fresh host keys (the image ships none, so every host has its own
# identity) and the provider's key for root, read from PID 1's environment (`docker run -e`),
# as a provider's first-boot agent would. Later boots keep both.
cat >"$root/usr/local/sbin/hoist-test-first-boot" <<'SCRIPT'
#!/bin/sh
set -e
ssh-keygen -A >/dev/null
key=$(tr '\0' '\n' </proc/1/environ | sed -n 's/^HOIST_TEST_ROOT_KEY=//p')
if [ -n "$key" ] && [ ! -s /root/.ssh/authorized_keys ]; then
  mkdir -p /root/.ssh && chmod 700 /root/.ssh
  printf '%s\n' "$key" >/root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
fi
# Test-only: a VPS's root can set its network sysctls; a container's /proc/sys is read-only. The
# one hoist sets (caddy-reload: net.ipv4.tcp_migrate_req, per network namespace) is made
# writable at every boot, as on a VPS. A kernel without it is left as it is.
f=/proc/sys/net/ipv4/tcp_migrate_req
[ ! -e $f ] || { mount --bind $f $f && mount -o remount,bind,rw $f; } || true
SCRIPT
chmod 755 "$root/usr/local/sbin/hoist-test-first-boot"
cat >"$root/etc/systemd/system/hoist-test-first-boot.service" <<'UNIT'
[Unit]
Description=Test VPS: host keys, the provider's root key, a writable tcp_migrate_req
Before=ssh.service ssh.socket
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/hoist-test-first-boot
[Install]
WantedBy=multi-user.target
UNIT
# Test-only: Docker 26 (Debian 13) in this nested kernel fails to disable IPv6 on a container's
# interface; a VPS's own kernel does not need this. Harmless where Docker is older or absent.
mkdir -p "$root/etc/systemd/system/docker.service.d"
printf '[Service]\nEnvironment=DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1\n' >"$root/etc/systemd/system/docker.service.d/hoist-test.conf"
chroot "$root" systemctl enable hoist-test-first-boot.service ssh.service cron.service >/dev/null 2>&1
# Units that cannot work in a container and would only show up as failed.
chroot "$root" systemctl mask systemd-modules-load.service systemd-remount-fs.service getty@tty1.service console-getty.service >/dev/null 2>&1 || true
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

tar -C "$root" -c . | docker import \
  --change 'CMD ["/sbin/init"]' \
  --change 'EXPOSE 22' - "$tag" >/dev/null

#!/usr/bin/env bash
# Makes this machine able to run hoist's test hosts: Debian packages (Docker engine,
# debootstrap, ssh client, dnsmasq, pebble (Let's Encrypt's test CA) and openssl for its TLS
# pair, docker-registry (the distribution registry, for BUILD=registry); sudo's visudo and
# openssh-server's sshd, which unit tests use to check the files
# ssh-bootstrap writes) and a running dockerd. Idempotent; needs root. The systemd test hosts'
# images (test/harness/build-vps-systemd-image.sh) need nothing more: debootstrap, then chroot,
# mount and tar, which every Debian has (systemd and the rest are installed inside the image).
set -euo pipefail
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v dnsmasq >/dev/null || need+=(dnsmasq-base)
command -v pebble >/dev/null || need+=(pebble)
# The image registry BUILD=registry is tested against (test/harness/registry.ts).
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v openssl >/dev/null || need+=(openssl)
command -v ip >/dev/null || need+=(iproute2)
[ -x /usr/sbin/visudo ] || command -v visudo >/dev/null || need+=(sudo)
new_sshd=no
if ! [ -x /usr/sbin/sshd ] && ! command -v sshd >/dev/null; then need+=(openssh-server); new_sshd=yes; fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  # Only sshd's binary is wanted: no package may start a service here (sshd on this machine's
  # port 22). policy-rc.d answers "not allowed" to invoke-rc.d and deb-systemd-invoke; one that
  # is there already (Docker images ship one) is left as it is.
  policy=/usr/sbin/policy-rc.d
  made_policy=no
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# testbed-prereqs.sh: no service starts during this install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=yes
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  # NEEDRESTART_SUSPEND: needrestart (if installed) must not restart this machine's services either.
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq "${need[@]}" >/dev/null
  if [ "$made_policy" = yes ]; then rm -f "$policy"; trap - EXIT; fi
  # There was no sshd before: keep it from starting at the next boot too (systemd machines).
  if [ "$new_sshd" = yes ] && [ -d /run/systemd/system ]; then
    systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
  fi
fi
# `sshd -t` as root wants its privilege separation folder, which only ssh.service makes (/run is
# emptied at boot, so this is checked on every run).
[ -d /run/sshd ] || install -d -m 755 /run/sshd
if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (log: /tmp/dockerd.log)"
  nohup dockerd >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 /tmp/dockerd.log; echo "dockerd did not start" >&2; exit 1; }
fi

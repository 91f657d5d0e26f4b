// Swap on a VPS with little memory (issue #19 item 4): an image build of an ML app on a 1 GiB
// machine dies of the kernel's OOM killer, or freezes the host, without it.
//
// SWAP_SIZE=SIZE: /swapfile of that size (mode 600, in /etc/fstab, on). Empty (automatic): the
// same with 2 GiB (1 GiB when the disk is short) when the host has less than 2 GiB of memory and
// no swap at all, nothing otherwise; a /swapfile already in fstab is kept as it is. 0 / off:
// hoist creates nothing and removes nothing.
//
// The host's memory is the smaller of what the kernel has (MemTotal) and the bound of the cgroup
// hoist's login runs in, or of any cgroup above it (a container VPS's limit: /proc/meminfo there
// shows the whole machine): cgroup v2's memory.max, or v1's memory.limit_in_bytes on a host that
// still mounts the v1 hierarchy (the test machine does).
//
// `swapon` needs CAP_SYS_ADMIN and a filesystem that can hold swap: a container VPS (or a test
// host on overlayfs) refuses it. Then the file and its fstab line stay, the refusal is a warning,
// and a run after it has nothing to do (swapon is not retried every run).
import { formatBytes } from '../../lib/byte-size.ts';
import { sh, type Cmd } from '../../lib/shell-quote.ts';

export const SWAPFILE = '/swapfile';
export const FSTAB_LINE = `${SWAPFILE} none swap sw 0 0`;
const GiB = 1024 ** 3;
/** Less memory than this, and no swap: the automatic choice makes a swapfile. */
export const AUTO_BELOW = 2 * GiB;

export interface SwapFact {
  /** MemTotal, bytes. */
  memTotal: number;
  /** The tightest memory.max above the login's cgroup, bytes; null: none. */
  memLimit: number | null;
  /** SwapTotal, bytes (every active swap area). */
  swapTotal: number;
  /** /swapfile: its size and mode, null when there is none. */
  file: { size: number; mode: string } | null;
  /** /swapfile is active (in /proc/swaps). */
  active: boolean;
  /** /etc/fstab as it is ('' when missing). */
  fstab: string;
  /** Free bytes on the filesystem of /. */
  diskFree: number;
}

export type SwapPlan =
  | { kind: 'none'; why: string }
  | { kind: 'ensure'; size: number; recreate: boolean; fstab: string | null; chmod: boolean; why: string };

export const hasFstabLine = (fstab: string) => fstab.split('\n').some((l) => new RegExp(`^\\s*${SWAPFILE}\\s+`).test(l));

/** The host's memory as the apps see it: MemTotal, or a cgroup's bound when lower. */
export const effectiveMemory = (f: SwapFact) => (f.memLimit !== null && f.memLimit < f.memTotal ? f.memLimit : f.memTotal);

export function planSwap(setting: number | 'auto' | 'off', f: SwapFact): SwapPlan {
  if (setting === 'off') return { kind: 'none', why: 'swap left alone (SWAP_SIZE=off)' };
  const inFstab = hasFstabLine(f.fstab);
  let size: number;
  let why: string;
  if (setting === 'auto') {
    if (f.file && inFstab) return { kind: 'none', why: `${SWAPFILE} (${formatBytes(f.file.size)}) in fstab${f.active ? '' : ', not active (swapon was refused)'}` };
    const mem = effectiveMemory(f);
    if (mem >= AUTO_BELOW) return { kind: 'none', why: `no swapfile needed (${formatBytes(mem)} of memory)` };
    if (f.swapTotal > 0) return { kind: 'none', why: `swap already there (${formatBytes(f.swapTotal)})` };
    size = f.diskFree >= 4 * GiB ? 2 * GiB : f.diskFree >= 2 * GiB ? GiB : 0;
    if (!size) return { kind: 'none', why: `no swapfile: ${formatBytes(mem)} of memory, but only ${formatBytes(f.diskFree)} free on / (SWAP_SIZE sets one anyway)` };
    why = `${formatBytes(mem)} of memory and no swap`;
  } else {
    size = setting;
    why = 'SWAP_SIZE';
    if (f.file?.size !== size && f.diskFree + (f.file?.size ?? 0) < size + GiB) {
      return { kind: 'none', why: `no swapfile of ${formatBytes(size)}: only ${formatBytes(f.diskFree)} free on / (it needs ${formatBytes(size + GiB)} to leave 1 GiB)` };
    }
  }
  const recreate = f.file === null || f.file.size !== size;
  const fstab = inFstab ? null : `${f.fstab}${f.fstab === '' || f.fstab.endsWith('\n') ? '' : '\n'}${FSTAB_LINE}\n`;
  const chmod = f.file !== null && !recreate && f.file.mode !== '600';
  if (!recreate && !fstab && !chmod) return { kind: 'none', why: `${SWAPFILE} (${formatBytes(size)}) in fstab${f.active ? '' : ', not active (swapon was refused)'}` };
  return { kind: 'ensure', size, recreate, fstab, chmod, why };
}

/** Makes /swapfile (fallocate, dd where the filesystem cannot), mode 600, mkswap; adds the fstab line. */
export function ensureSwapCommand(p: Extract<SwapPlan, { kind: 'ensure' }>): Cmd {
  const tmp = `${SWAPFILE}.hoist-new`;
  const mib = Math.ceil(p.size / 1024 ** 2);
  const make = p.recreate
    ? sh`if [ -f ${SWAPFILE} ]; then swapoff ${SWAPFILE} 2>/dev/null; rm -f ${SWAPFILE}; fi; rm -f ${tmp}; (umask 077; fallocate -l ${String(p.size)} ${tmp} 2>/dev/null || dd if=/dev/zero of=${tmp} bs=1M count=${String(mib)} status=none) || { rm -f ${tmp}; exit 1; }; chmod 600 ${tmp} && mkswap ${tmp} >/dev/null && mv -f ${tmp} ${SWAPFILE} || { rm -f ${tmp}; exit 1; }; `
    : sh``;
  const fstab = p.fstab !== null ? sh`grep -Eq ${`^[[:space:]]*${SWAPFILE}[[:space:]]`} /etc/fstab 2>/dev/null || printf '%s\\n' ${FSTAB_LINE} >> /etc/fstab; ` : sh``;
  return sh`${make}chmod 600 ${SWAPFILE} && ${fstab}true`;
}

/** Turns /swapfile on when it is not; its error (a container refusing it) is the caller's warning. */
export const swapOnCommand = (): Cmd => sh`grep -q ${`^${SWAPFILE} `} /proc/swaps || swapon ${SWAPFILE}`;

/** The probe's lines for SwapFact (run as root); sizes in KiB (mawk prints large products as 2.5e+10). */
export function swapProbe(): Cmd {
  return sh`awk '$1 == "MemTotal:" { print "mem_total_kb=" $2 } $1 == "SwapTotal:" { print "swap_total_kb=" $2 }' /proc/meminfo
lim=; for spec in "/sys/fs/cgroup|$(sed -n 's/^0:://p' /proc/self/cgroup)|memory.max" "/sys/fs/cgroup/memory|$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)|memory.limit_in_bytes"; do
  root=\${spec%%|*}; rest=\${spec#*|}; cg=\${rest%%|*}; file=\${rest#*|}; n=0
  while [ -n "$cg" ] && [ $n -lt 64 ]; do n=$((n+1)); v=$(cat "$root$cg/$file" 2>/dev/null); case "$v" in ''|max) ;; *) if [ -z "$lim" ] || [ "$v" -lt "$lim" ]; then lim=$v; fi;; esac; [ "$cg" = / ] && break; cg=\${cg%/*}; [ -n "$cg" ] || cg=/; done
done; echo "mem_limit=$lim"
if [ -f ${SWAPFILE} ]; then echo "swapfile=$(stat -c '%s %a' ${SWAPFILE})"; else echo swapfile=-; fi
if grep -q ${`^${SWAPFILE} `} /proc/swaps; then echo swap_active=yes; else echo swap_active=no; fi
if [ -f /etc/fstab ]; then echo "file:fstab=$(base64 -w0 < /etc/fstab)"; else echo file:fstab=; fi
echo "disk_free_kb=$(df -Pk / | awk 'NR == 2 { print $4 }')"`;
}

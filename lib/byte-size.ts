// Sizes of disk space as people write and read them. A setting (BUILD_MIN_FREE=2G) is read in
// binary units, as `df -h` and Docker print them, so the number hoist shows is the one the
// operator typed; shown sizes keep three significant digits, enough to compare with `du`.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
const FACTOR: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i;

/** Null when `value` is a size (`0`, `512M`, `1.5G`, `2GiB`, `300000000`); else what is wrong. */
export function byteSizeProblem(value: string): string | null {
  return SIZE.test(value.trim()) ? null : 'is not a size (a number of bytes, or with a unit: 500M, 2G, 1.5GiB)';
}

/** Bytes, rounded down; throws on anything `byteSizeProblem` refuses. */
export function parseByteSize(value: string): number {
  const m = SIZE.exec(value.trim());
  if (!m) throw new Error(`not a size: ${value}`);
  return Math.floor(Number(m[1]) * FACTOR[m[2]!.toLowerCase()]!);
}

/** `0 B`, `980 B`, `12.0 KiB`, `1.50 GiB`: three significant digits from KiB up. */
export function formatBytes(bytes: number): string {
  let n = Math.max(0, bytes);
  let unit = 0;
  while (n >= 1024 && unit < UNITS.length - 1) {
    n /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(n)} B`;
  const shown = n >= 99.95 ? n.toFixed(0) : n >= 9.995 ? n.toFixed(1) : n.toFixed(2);
  // 1023.9 KiB rounds to "1024 KiB": shown as the next unit instead.
  if (Number(shown) >= 1024 && unit < UNITS.length - 1) return `1.00 ${UNITS[unit + 1]}`;
  return `${shown} ${UNITS[unit]}`;
}

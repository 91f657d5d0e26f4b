// The few statistics the benchmark reports: medians of runs (robust to one run disturbed by
// the other work on this shared machine) and ratios of medians.

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function ratio(a: number, b: number): number {
  return b > 0 ? a / b : NaN;
}

// Command-line flags of the benchmark runner (scripts/bench/run.ts).
import { resolve } from 'node:path';

export interface BenchArgs {
  /** Fleet sizes to time, ascending; the largest is started once and subsets are used. */
  hosts: number[];
  /** Timed runs per fleet size and tool; the report gives medians. */
  runs: number;
  out: string;
  /** Hosts bootstrapped / released at once during the (untimed) setup. */
  setupConcurrency: number;
  /** Re-render the report from a run's saved measurements (no hosts started). */
  fromJson: string | null;
  /**
   * Time hoist from its TypeScript sources (HOIST_FROM_SOURCE=1) instead of the compiled dist/:
   * for a checkout whose dist/ is stale and may not be rebuilt. Start-up is then slower than users'.
   */
  fromSource: boolean;
  /**
   * Another checkout's hoist to set up with and time (its bin/hoist.mjs), e.g. a clean clone of
   * a commit while this checkout is being edited; null: this checkout's.
   */
  hoistRoot: string | null;
}

export const USAGE = `node --import tsx scripts/bench/run.ts [--hosts 1,10,30] [--runs 3] [--out BENCHMARKS.md] [--setup-concurrency 6] [--from-source] [--hoist-root DIR] [--from-json FILE]`;

export function parseArgs(argv: string[]): BenchArgs {
  const a: BenchArgs = { hosts: [1, 10, 30], runs: 3, out: 'BENCHMARKS.md', setupConcurrency: 6, fromJson: null, fromSource: false, hoistRoot: null };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--from-source') {
      a.fromSource = true;
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined && flag !== '--help') throw new Error(`${flag} needs a value\n${USAGE}`);
    const int = (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} ${v}: not a positive whole number\n${USAGE}`);
      return n;
    };
    switch (flag) {
      case '--hosts':
        a.hosts = [...new Set(value!.split(',').map(int))].sort((x, y) => x - y);
        break;
      case '--runs':
        a.runs = int(value!);
        break;
      case '--out':
        a.out = value!;
        break;
      case '--setup-concurrency':
        a.setupConcurrency = int(value!);
        break;
      case '--hoist-root':
        a.hoistRoot = resolve(value!);
        break;
      case '--from-json':
        a.fromJson = resolve(value!);
        break;
      case '--help':
        console.log(USAGE);
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new Error(`unknown flag ${flag}\n${USAGE}`);
    }
    i++;
  }
  a.out = resolve(a.out);
  return a;
}

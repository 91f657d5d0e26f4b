// Watching a test host's command lines for secrets: every `pause` seconds, every process's command
// line (what `ps -eo args` shows: /proc/PID/cmdline, its NUL-separated words joined by spaces,
// control characters such as a script's line breaks as '?'),
// then a `--- sample` line. bash alone reads them (a glob, `mapfile` on each cmdline, `read -t` on
// a pipe nobody writes as the pause): `ps` and `sleep` 20 times a second cost ~23 ms of CPU per
// sample on the test hosts, for the whole of a test file; this costs ~1.5 ms.
import { quote } from '../../lib/shell-quote.ts';

export interface SamplerOptions {
  /** The sampler ends once this file exists... */
  stop: string;
  /** ...or after this many samples (the bound on its loop). */
  samples: number;
  /** Seconds between samples. */
  pause: number;
  /** A path for the pipe its pause reads (made and removed by the sampler). */
  tick: string;
}

/** The sampler as a bash script; its samples go to stdout. */
export function samplerScript(o: SamplerOptions): string {
  return `shopt -s nullglob; tick=${quote(o.tick)}; rm -f "$tick"; mkfifo "$tick" && exec 5<>"$tick" || exit 1
for ((i = 0; i < ${o.samples}; i++)); do
  [ -e ${quote(o.stop)} ] && break
  for f in /proc/[0-9]*/cmdline; do mapfile -d '' -t words < "$f" && [ \${#words[@]} -gt 0 ] && line="\${words[*]}" && printf '%s\\n' "\${line//[[:cntrl:]]/?}"; done 2>/dev/null
  echo '--- sample'
  read -t ${o.pause} -u 5 _
done
rm -f "$tick"`;
}

/** A shell line that starts the sampler in the background, its samples written to `out`. */
export function startSamplerLine(o: SamplerOptions & { out: string }): string {
  return `rm -f ${quote(o.stop)}; (bash -c ${quote(samplerScript(o))} > ${quote(o.out)} 2>&1 &)`;
}

// A destructive pipeline (remove) asks before it runs for real. On a terminal the dry run is shown
// first and the operator types the word the pipeline names (the app's name); nothing to do means
// nothing to ask. Without a terminal nobody can answer: it needs --yes, and says so before any
// host is contacted (exit 2).
import { createInterface } from 'node:readline/promises';
import { EXIT, UsageError } from '../errors.ts';

export interface Terminal {
  /** Someone can answer: stdin and stderr are terminals. */
  interactive: boolean;
  ask(question: string): Promise<string>;
  say(text: string): void;
}

export function processTerminal(): Terminal {
  return {
    interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
    async ask(question) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    },
    say: (text) => process.stderr.write(`${text}\n`),
  };
}

export interface ConfirmOptions {
  /** As typed: `hoist run remove`, whose alias is `hoist remove`. */
  pipeline: string;
  word: string;
  hosts: string[];
  /** Runs and prints the dry run: its exit code, and whether any host has something to change. */
  preview(): Promise<{ code: number; changes: boolean }>;
  terminal?: Terminal;
}

/** null: go ahead. A number: exit with it (the dry run failed or found nothing, or no yes was typed). */
export async function confirmRun(o: ConfirmOptions): Promise<number | null> {
  const t = o.terminal ?? processTerminal();
  if (!t.interactive) {
    throw new UsageError(
      `"hoist run ${o.pipeline}" deletes what its dry run lists and cannot be undone, and there is no terminal to confirm on. ` +
        `Fix: look first (hoist run ${o.pipeline} --dry-run), then add --yes`,
    );
  }
  const { code, changes } = await o.preview();
  if (code !== EXIT.ok || !changes) return code;
  const on = o.hosts.length === 1 ? o.hosts[0]! : `${o.hosts.length} hosts (${o.hosts.join(', ')})`;
  const answer = (await t.ask(`\nThe dry run above lists what "${o.pipeline}" deletes on ${on}; it cannot be undone.\nType ${o.word} to go on (anything else cancels): `)).trim();
  if (answer === o.word) return null;
  t.say(`hoist: cancelled (${answer ? `"${answer}" is not ${o.word}` : 'nothing typed'}): nothing was changed`);
  return EXIT.taskFailed;
}

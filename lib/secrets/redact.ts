// The secret values this run knows of, and text with them hidden. Filled once the settings are
// loaded (lib/secrets/register.ts: the keys marked `secret` in lib/config/keys.ts and the values in
// APP_ENV_FILE); used where text made from remote output leaves hoist: every HoistError's message
// (lib/errors.ts), so a failed release's log tail or a command's stderr cannot print a value the
// app wrote into its own logs. No imports: lib/errors.ts depends on this module.
//
// What is matched: each value as it is, each of its lines (a multi-line value printed line by
// line), JSON-escaped, URL-encoded and base64, so the forms a value takes in logs and URLs are
// caught too. Short values are not registered: masking every "8000" or "true" would garble the
// output and hide nothing (see MIN_LENGTH).

/** Values shorter than this are not hidden: they are too likely to appear by chance. */
export const MIN_LENGTH = { secretKey: 4, envValue: 8 } as const;

const known = new Map<string, string>();
let pattern: RegExp | null = null;

/** The text forms of `value` worth hiding, longest first. */
export function formsOf(value: string, min: number): string[] {
  const forms = new Set<string>([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value), Buffer.from(value).toString('base64')]);
  for (const line of value.split(/\r?\n/)) forms.add(line.trim());
  return [...forms].filter((f) => f.length >= min).sort((a, b) => b.length - a.length);
}

/** Registers `value` (named `label` where it is hidden); `min`: shorter values are ignored. */
export function addSecret(value: string | undefined, label: string, min: number = MIN_LENGTH.secretKey): void {
  if (!value || value.length < min) return;
  for (const form of formsOf(value, min)) {
    if (!known.has(form)) {
      known.set(form, label);
      pattern = null;
    }
  }
}

/** `text` with every known secret replaced by `[secret LABEL]`. */
export function redact(text: string): string {
  if (known.size === 0 || !text) return text;
  pattern ??= new RegExp(
    [...known.keys()]
      .sort((a, b) => b.length - a.length)
      .map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('|'),
    'g',
  );
  return text.replace(pattern, (m) => `[secret ${known.get(m)}]`);
}

/** How many forms are registered (tests). */
export function knownSecretCount(): number {
  return known.size;
}

/** Forgets every registered value (tests). */
export function clearSecrets(): void {
  known.clear();
  pattern = null;
}

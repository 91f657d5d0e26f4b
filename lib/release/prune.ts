// Which old releases go: the oldest first, until at most `keep` remain, never the live one
// (`current`) nor the one just prepared (`pending`). Pure, so the plan and its tests share it.
import { byAge, isReleaseName } from './layout.ts';

/**
 * Release names to remove from `names` (after the new release is added to them). When the
 * protected ones alone exceed `keep` (keep=1 between prepare and switch), they all stay.
 */
export function releasesToPrune(names: readonly string[], keep: number, protect: readonly (string | null)[]): string[] {
  const ours = byAge([...new Set(names.filter(isReleaseName))]);
  const kept = new Set(protect.filter((n): n is string => n !== null));
  const excess = ours.length - keep;
  if (excess <= 0) return [];
  return ours.filter((n) => !kept.has(n)).slice(0, excess);
}

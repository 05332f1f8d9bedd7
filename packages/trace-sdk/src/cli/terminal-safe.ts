/**
 * Escaping for what the CLI prints for humans. Artifact and sidecar fields are attacker-controlled
 * (a compromised runtime writes them), so control characters (C0, DEL, C1: ESC/BEL/OSC sequences
 * that retitle, recolour or rewrite a terminal) and Unicode bidi overrides (which reorder what a
 * reviewer sees) are shown as visible `\u` escapes. `--json` output is JSON.stringify's own and
 * stays exact.
 *
 * @packageDocumentation
 */

// C0 except tab/newline handled by the callers, DEL, C1, and the bidi formatting characters
// (ALM, LRM, RLM, LRE..RLO, LRI..PDI), plus the line and paragraph separators.
const UNSAFE =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_IN_VALUE =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * One field value for a human-readable line: every control, bidi and line-break character becomes
 * a visible `\uXXXX`, so a value can neither reach the terminal as a sequence nor start a new line.
 */
export function terminalSafe(value: string): string {
  return value.replace(UNSAFE_IN_VALUE, escapeChar);
}

/** Like {@link terminalSafe} for text of several lines: keeps `\n` and `\t`, escapes the rest. */
export function terminalSafeText(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/**
 * A JSON line for `cat`: JSON allows raw DEL, C1 and bidi characters inside strings, and tab and
 * CR only as whitespace between tokens. Escaping the former as `\uXXXX` and turning the latter into
 * spaces keeps the parsed value identical, so `cat | jq` reads the same data and a terminal shows
 * only printable text.
 */
export function terminalSafeJsonLine(text: string): string {
  return text.replace(UNSAFE_IN_VALUE, (c) => (c === '\r' || c === '\t' ? ' ' : escapeChar(c)));
}

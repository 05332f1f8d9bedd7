/**
 * Per-field truncation: long strings keep their head and say how long they were, as the Python
 * agent writes them: `<first N chars>... [truncated, <total> chars total]`.
 *
 * Redaction runs before the cut, never after: cutting first could split a secret so that no
 * pattern recognises the half that stays.
 *
 * @packageDocumentation
 */

/** The suffix appended to a truncated string; `total` is the original length in UTF-16 units. */
export function truncationSuffix(total: number): string {
  return `... [truncated, ${total} chars total]`;
}

/**
 * Raw characters past the cut that are redacted along with the kept head, so a secret that starts
 * before the cut is recognised whole. Longer than any secret the built-in patterns match.
 */
export const REDACTION_LOOKAHEAD_CHARS = 16 * 1024;

/** What {@link redactAndTruncate} produced. */
export interface TruncateResult {
  readonly text: string;
  readonly truncated: boolean;
}

/**
 * Redacts `s` with `redact` and keeps at most `limit` characters of the result, followed by
 * {@link truncationSuffix}. Only the head of a very long string is redacted (the rest is cut away
 * anyway), which keeps the cost proportional to `limit`, not to the input.
 *
 * A cut never splits a UTF-16 surrogate pair.
 */
export function redactAndTruncate(s: string, limit: number, redact: (s: string) => string): TruncateResult {
  if (s.length <= limit) return { text: redact(s), truncated: false };
  const window = limit + REDACTION_LOOKAHEAD_CHARS;
  const sliced = s.length > window;
  let r = redact(sliced ? s.slice(0, window) : s);
  // Redaction shrank the window a lot (e.g. a run of private keys): the end of the window, where a
  // secret may have been cut by the slice, could now reach the kept head. Redact the whole string.
  if (sliced && r.length < limit + REDACTION_LOOKAHEAD_CHARS / 2) r = redact(s);
  // Only a whole-string redaction can come out this short (a window that is kept is longer).
  if (r.length <= limit) return { text: r, truncated: false };
  let cut = limit;
  const last = r.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return { text: r.slice(0, cut) + truncationSuffix(s.length), truncated: true };
}

/** Truncates without redacting: `s` itself when it fits, else its head and the suffix. */
export function truncateText(s: string, limit: number): string {
  return redactAndTruncate(s, limit, identity).text;
}

function identity(s: string): string {
  return s;
}

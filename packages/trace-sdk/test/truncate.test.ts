import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Redactor } from '../src/serialize/redact.js';
import {
  REDACTION_LOOKAHEAD_CHARS,
  redactAndTruncate,
  truncateText,
  truncationSuffix,
} from '../src/serialize/truncate.js';

const AKIA = `AKIA${'IOSFODNN7EXAMPLE'}`;
const redact = (s: string) => new Redactor().redact(s);

describe('truncation', () => {
  it('writes the exact suffix with the original length', () => {
    expect(truncationSuffix(12345)).toBe('... [truncated, 12345 chars total]');
    expect(truncateText('x'.repeat(4001), 4000)).toBe(`${'x'.repeat(4000)}... [truncated, 4001 chars total]`);
  });

  it('leaves strings at or under the limit alone', () => {
    expect(truncateText('x'.repeat(4000), 4000)).toBe('x'.repeat(4000));
    expect(truncateText('', 1)).toBe('');
  });

  it('keeps exactly `limit` characters plus the suffix', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.integer({ min: 1, max: 200 }), (s, limit) => {
        const out = truncateText(s, limit);
        if (s.length <= limit) expect(out).toBe(s);
        else {
          const head = out.slice(0, out.length - truncationSuffix(s.length).length);
          expect(out.endsWith(truncationSuffix(s.length))).toBe(true);
          expect(s.startsWith(head)).toBe(true);
          expect(head.length === limit || head.length === limit - 1).toBe(true);
        }
      }),
    );
  });

  it('never splits a surrogate pair', () => {
    const s = `${'a'.repeat(9)}😀tail`;
    expect(truncateText(s, 10)).toBe(`${'a'.repeat(9)}... [truncated, ${s.length} chars total]`);
    expect(truncateText(s, 11)).toBe(`${'a'.repeat(9)}😀... [truncated, ${s.length} chars total]`);
  });

  it('redacts before cutting: a secret straddling the cut never leaves a readable half', () => {
    const s = `${'x'.repeat(9)} ${AKIA} ${'y'.repeat(100)}`;
    const out = redactAndTruncate(s, 20, redact);
    expect(out.truncated).toBe(true);
    expect(out.text).toBe(`${'x'.repeat(9)} [REDACTED-... [truncated, ${s.length} chars total]`);
    expect(out.text).not.toContain('AKIA');
  });

  it('only redacts a window past the cut of a very long string, but stays safe when redaction shrinks it', () => {
    const long = `${AKIA} ${'z'.repeat(REDACTION_LOOKAHEAD_CHARS * 4)}`;
    const seen: number[] = [];
    const out = redactAndTruncate(long, 100, (s) => {
      seen.push(s.length);
      return redact(s);
    });
    expect(seen).toEqual([100 + REDACTION_LOOKAHEAD_CHARS]);
    expect(out.text.startsWith('[REDACTED-AWS-ACCESS-KEY-ID] zzz')).toBe(true);

    // Many private keys collapse the window: the whole string is redacted, so the key cut by the
    // window's end is still caught.
    const pem = `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(1000)}\n-----END PRIVATE KEY-----\n`;
    const manyKeys = pem.repeat(Math.ceil((REDACTION_LOOKAHEAD_CHARS * 2) / pem.length));
    const out2 = redactAndTruncate(manyKeys, 100, redact);
    expect(out2.text).not.toContain('AAAA');
  });

  it('reports no truncation when redaction alone brings a string under the limit', () => {
    const pem = `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(500)}\n-----END PRIVATE KEY-----`;
    expect(redactAndTruncate(pem, 100, redact)).toEqual({ text: '[REDACTED-PRIVATE-KEY]', truncated: false });
  });
});

/**
 * Redaction: the one place secrets are recognised and replaced. Every string the recorder writes
 * (values, object keys, event names, markers) passes through a {@link Redactor} before it reaches
 * the spool, so a secret never touches the compressed bytes.
 *
 * This module is the engine; the rules are data in ./redaction-rules.ts (`BUILTIN_RULES`, a table
 * of `{ label, trigger, keywords, pattern }` rows), one row per kind of credential, at least as
 * broad as gitleaks' default configuration (the kind-by-kind comparison is in
 * docs/security-model.md, "Redaction coverage"). A match is replaced by `[REDACTED-<LABEL>]`; the
 * named group `pre` (a parameter name, a URL's scheme and user) is kept in front of the marker.
 * The patterns also recognise their secrets JSON-escaped inside a string
 * (`\"api_key\":\"...\"`, `\n` before a token) and URL-encoded (`%3D`, `%2F`, `%40`), and
 * have no upper bound on a token's length.
 *
 * Object keys also steer redaction: the value of a key named like a credential (`password`,
 * `api_key`, `apiKey`, `token`, `client_secret`, `authorization`, `private_key`, `GITHUB_TOKEN`,
 * `OPENAI_API_KEY`, `SecretAccessKey`, ...; see {@link secretLabelForKey}) is replaced whole,
 * whatever its type, because the key and its value are separate strings.
 *
 * Cost: a clean string costs three regex scans that skip through text at hundreds of megabytes per
 * second (the prefilter, anchored on rare characters); for the rare strings the prefilter lets
 * through, each rule's keywords are looked up (`includes`) and a rule's pattern runs only when one
 * occurs. User patterns (`redactPatterns`) always run.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import {
  BUILTIN_RULES,
  type BuiltinRule,
  FAMILIES,
  FAMILY_NAMES,
  type Family,
  SECRET_KEY_SUFFIXES,
  SECRET_KEYS,
} from './redaction-rules.js';

export { BUILTIN_REDACTION_LABELS, type BuiltinRedactionLabel } from './redaction-rules.js';

/** A user-supplied pattern: every match is replaced by `[REDACTED-<label>]`. */
export interface RedactionPattern {
  /** Letters, digits, `-` and `_`; upper-cased in the replacement, e.g. `INTERNAL-TOKEN`. */
  readonly label: string;
  /** Matched against every string; the `g` flag is added when missing. */
  readonly pattern: RegExp;
}

/** The replacement text for `label`: `[REDACTED-<LABEL>]`. */
export function redactionMarker(label: string): string {
  return `[REDACTED-${label}]`;
}

/**
 * Raised (internally) when a user pattern fails while redacting. The recorder masks the whole
 * event instead of writing anything that might not have been redacted.
 */
export class RedactionFailure extends Error {
  constructor(cause: unknown) {
    super('A redaction pattern failed', { cause });
    this.name = 'RedactionFailure';
  }
}

interface Scan {
  /** Any family of the scan: one cheap test. */
  readonly any: RegExp;
  /** The same, one capture group per family (`names[i]` is group `i + 1`). */
  readonly which: RegExp;
  readonly names: readonly Family[];
}

const SCANS: readonly Scan[] = [0, 1, 2].map((scan) => {
  const names = FAMILY_NAMES.filter((name) => FAMILIES[name].scan === scan);
  return {
    any: new RegExp(names.map((name) => FAMILIES[name].source).join('|')),
    which: new RegExp(names.map((name) => `(${FAMILIES[name].source})`).join('|'), 'g'),
    names,
  };
});

/** Bit `i` set when family `FAMILY_NAMES[i]` occurs in `s`; 0 for nearly every string, at little cost. */
function firedFamilies(s: string): number {
  let mask = 0;
  for (const scan of SCANS) {
    if (!scan.any.test(s)) continue;
    const re = scan.which;
    re.lastIndex = 0;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      for (let i = 1; i < m.length; i++) {
        if (m[i] !== undefined) {
          mask |= 1 << FAMILY_NAMES.indexOf(scan.names[i - 1]!);
          break;
        }
      }
    }
  }
  return mask;
}

const RULE_FAMILY_BITS = BUILTIN_RULES.map((rule) => 1 << FAMILY_NAMES.indexOf(rule.trigger));

/** The number of built-in rules (rows of the rule table). */
export const BUILTIN_RULE_COUNT = BUILTIN_RULES.length;

// ---- secret-named keys -----------------------------------------------------------------------------

const KEY_NORMALIZE = /[-_.\s]/g;

/**
 * The label under which the whole value of an object key is redacted, or `undefined` for
 * ordinary keys. Matches `password`, `api_key`, `apiKey`, `token`, `client_secret`,
 * `authorization`, `private_key`, `GITHUB_TOKEN`, `OPENAI_API_KEY`, `SecretAccessKey`,
 * `aws_session_token`, `X-Amz-Signature`, `credentials`, ... (any case; `-`, `_`, `.` ignored).
 */
export function secretLabelForKey(key: string): string | undefined {
  if (key.length > 64) return undefined;
  const k = key.toLowerCase().replace(KEY_NORMALIZE, '');
  const exact = SECRET_KEYS.get(k);
  if (exact !== undefined) return exact;
  for (const [suffix, label] of SECRET_KEY_SUFFIXES) if (suffix.test(k)) return label;
  return undefined;
}

// ---- user patterns ---------------------------------------------------------------------------------

const LABEL = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

interface UserRule {
  readonly pattern: RegExp;
  readonly replacement: string;
}

/** Validates user patterns (throws {@link ConfigError} naming `redactPatterns`) and prepares them. */
function compileUserPatterns(patterns: readonly RedactionPattern[] | undefined): UserRule[] {
  if (patterns === undefined) return [];
  if (!Array.isArray(patterns)) throw new ConfigError('redactPatterns must be an array', 'redactPatterns');
  return patterns.map((p, i) => {
    const where = `redactPatterns[${i}]`;
    if (p === null || typeof p !== 'object')
      throw new ConfigError(`${where} must be { label, pattern }`, where);
    if (typeof p.label !== 'string' || !LABEL.test(p.label)) {
      throw new ConfigError(`${where}.label must be 1-64 letters, digits, "-" or "_"`, `${where}.label`);
    }
    if (!(p.pattern instanceof RegExp))
      throw new ConfigError(`${where}.pattern must be a RegExp`, `${where}.pattern`);
    // Global (replace every match), never sticky (a sticky global regex stops at the first gap).
    const { flags } = p.pattern;
    const pattern =
      flags.includes('g') && !flags.includes('y')
        ? p.pattern
        : new RegExp(p.pattern, `${flags.replace(/[gy]/g, '')}g`);
    return { pattern, replacement: redactionMarker(p.label.toUpperCase()) };
  });
}

// ---- the redactor ----------------------------------------------------------------------------------

/** Whether one of `rule`'s keywords occurs in `s` (`lowered` is `s` lower-cased, made on demand). */
function hasKeyword(rule: BuiltinRule, s: string, lowered: () => string): boolean {
  const text = rule.caseless === true ? lowered() : s;
  for (const k of rule.keywords) if (text.includes(k)) return true;
  return false;
}

/**
 * Replaces secrets in strings and counts what it replaced. One per recorder; not shared, because
 * {@link Redactor.count} is its running total.
 */
export class Redactor {
  /** Replacements made so far (built-in and user patterns, and secret-named keys). */
  count = 0;
  private readonly userRules: readonly UserRule[];

  /** @throws {@link ConfigError} when a user pattern is malformed. */
  constructor(userPatterns?: readonly RedactionPattern[]) {
    this.userRules = compileUserPatterns(userPatterns);
  }

  /**
   * `s` with every secret replaced. Never throws for built-in patterns.
   *
   * @throws {@link RedactionFailure} when a user pattern throws.
   */
  redact(s: string): string {
    const fired = firedFamilies(s);
    let out = fired === 0 ? s : this.applyBuiltins(s, fired, true);
    if (this.userRules.length > 0) out = this.applyUserRules(out);
    return out;
  }

  /** Counts one whole-value replacement (a secret-named key) and returns its marker. */
  redactWhole(label: string): string {
    this.count++;
    return redactionMarker(label);
  }

  /**
   * @internal `fired`: family bits (rules of other families are skipped); `filter`: also skip
   * the rules none of whose keywords occur in the string.
   */
  applyBuiltins(s: string, fired: number, filter: boolean): string {
    let out = s;
    let lowered: string | undefined;
    const lower = () => {
      lowered ??= out.toLowerCase();
      return lowered;
    };
    for (let i = 0; i < BUILTIN_RULES.length; i++) {
      if ((fired & RULE_FAMILY_BITS[i]!) === 0) continue;
      const rule = BUILTIN_RULES[i]!;
      if (filter && !hasKeyword(rule, out, lower)) continue;
      const before = out;
      out = out.replace(rule.pattern, (...args: unknown[]) => this.replaceMatch(rule, args));
      if (out !== before) lowered = undefined;
    }
    return out;
  }

  private replaceMatch(rule: BuiltinRule, args: unknown[]): string {
    const match = args[0] as string;
    // replace() passes: match, ...groups, offset, whole string, named groups (when the pattern has any).
    const named = args[args.length - 1];
    const groups =
      typeof named === 'object' && named !== null ? (named as Record<string, string | undefined>) : undefined;
    const secret = groups?.['secret'] ?? match;
    if (rule.check !== undefined && !rule.check(secret)) return match;
    this.count++;
    return `${groups?.['pre'] ?? ''}${redactionMarker(rule.label)}`;
  }

  private applyUserRules(s: string): string {
    let out = s;
    try {
      for (const rule of this.userRules) {
        out = out.replace(rule.pattern, (match: string) => {
          // A pattern that matches the empty string must not sprinkle markers between characters.
          if (match.length === 0) return match;
          this.count++;
          return rule.replacement;
        });
      }
    } catch (err) {
      throw new RedactionFailure(err);
    }
    return out;
  }
}

/**
 * Every built-in rule applied without consulting the prefilter or keywords: the reference the
 * prefilter is tested against (it must never skip a rule that would have matched).
 *
 * @internal
 */
export function redactWithEveryRule(s: string): string {
  return new Redactor().applyBuiltins(s, -1, false);
}

let warmedUp = false;

/**
 * Compiles every built-in pattern, once per process, so that the agent's first `record()` calls do
 * not pay for it (about 10 ms for the first string, measured cold). V8 compiles a regex on its first
 * run, and straight to machine code when the subject is long, hence the padding; the sample fires
 * each prefilter scan so that its second, capturing regex is compiled too.
 *
 * @internal
 */
export function warmUpRedaction(): void {
  if (warmedUp) return;
  warmedUp = true;
  const sample = `${' '.repeat(1024)} token=x AKIA 4b1d`;
  firedFamilies(sample);
  redactWithEveryRule(sample);
}

/**
 * Redacts one string with the built-in patterns only (and `extra` patterns, when given). A
 * convenience for tools and tests; the recorder keeps one {@link Redactor} per trace.
 */
export function redactSecrets(s: string, extra?: readonly RedactionPattern[]): string {
  return new Redactor(extra).redact(s);
}

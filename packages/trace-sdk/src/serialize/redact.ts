/**
 * Redaction: the one place secrets are recognised and replaced. Every string the recorder writes
 * (values, object keys, event names, markers) passes through a {@link Redactor} before it reaches
 * the spool, so a secret never touches the compressed bytes.
 *
 * Built-in patterns and their replacements (`[REDACTED-<LABEL>]`):
 *
 * | Label                    | What                                                                                      |
 * | ------------------------ | ----------------------------------------------------------------------------------------- |
 * | `PRIVATE-KEY`            | PEM private key blocks (`-----BEGIN ... PRIVATE KEY-----` to its `END`, or to the end of the string when the END line is missing), PGP private key blocks |
 * | `AWS-SIGNATURE`          | `X-Amz-Signature=` values of presigned URLs, and SigV4 `Signature=<64 hex>`                |
 * | `AWS-CREDENTIAL`         | `X-Amz-Credential=` values of presigned URLs                                               |
 * | `AWS-SECURITY-TOKEN`     | `X-Amz-Security-Token=` values; session tokens after `aws_session_token=` and similar      |
 * | `GITHUB-TOKEN`           | `ghp_`/`gho_`/`ghs_`/`ghu_`/`ghr_` tokens, `github_pat_` tokens, the token in `https://x-access-token:<token>@github.com` |
 * | `JWT`                    | JSON Web Tokens (`eyJ<header>.eyJ<payload>.<signature>`)                                   |
 * | `AWS-ACCESS-KEY-ID`      | `AKIA`/`ASIA` followed by exactly 16 uppercase letters or digits                           |
 * | `AWS-SECRET-KEY`         | 40-character secret keys after `aws_secret_access_key`, `AWS_SECRET_ACCESS_KEY`, `SecretAccessKey`, ... (`=` or `:`, quoted or not) |
 * | `BEARER`                 | The token after `Bearer ` (at least 8 characters with a digit or one of `-._~+/`, or 20+ letters) |
 * | `PASSWORD`               | The password of a connection string: `scheme://user:<password>@host` keeps scheme, user and host |
 *
 * Object keys also steer redaction: the string value of a key named like a credential
 * (`SecretAccessKey`, `aws_secret_access_key`, `SessionToken`, `X-Amz-Signature`, `password`, ...; see
 * {@link secretLabelForKey}) is replaced whole, because the key and its value are separate strings.
 *
 * Cost: one scan per string for the rules' triggers (one regex anchored on rare characters); a
 * rule's pattern runs only on the rare strings that contain its trigger. User patterns (`redactPatterns`) always run.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';

/** A user-supplied pattern: every match is replaced by `[REDACTED-<label>]`. */
export interface RedactionPattern {
  /** Letters, digits, `-` and `_`; upper-cased in the replacement, e.g. `INTERNAL-TOKEN`. */
  readonly label: string;
  /** Matched against every string; the `g` flag is added when missing. */
  readonly pattern: RegExp;
}

/** Labels of the built-in patterns, as they appear in `[REDACTED-<LABEL>]`. */
export const BUILTIN_REDACTION_LABELS = [
  'PRIVATE-KEY',
  'AWS-SIGNATURE',
  'AWS-CREDENTIAL',
  'AWS-SECURITY-TOKEN',
  'GITHUB-TOKEN',
  'JWT',
  'AWS-ACCESS-KEY-ID',
  'AWS-SECRET-KEY',
  'BEARER',
  'PASSWORD',
] as const;

/** One of {@link BUILTIN_REDACTION_LABELS}. */
export type BuiltinRedactionLabel = (typeof BUILTIN_REDACTION_LABELS)[number];

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

/** `abc` → `[Aa][Bb][Cc]`: case-insensitive source for one part of a regex (no `(?i:)`, which Node 22 lacks). */
function caseless(word: string): string {
  return word.replace(/[a-z]/gi, (c) => `[${c.toUpperCase()}${c.toLowerCase()}]`);
}

const SEP = '[_-]?';
const ASSIGNED_NAMES = [
  `${caseless('secret')}${SEP}(?:${caseless('access')}${SEP})?${caseless('key')}`,
  `(?:${caseless('session')}|${caseless('security')})${SEP}${caseless('token')}`,
  `${caseless('x-amz-')}(?:${caseless('signature')}|${caseless('credential')}|${caseless('security-token')})`,
  caseless('signature'),
  caseless('x-access-token'),
].join('|');

/**
 * Cheap tests that a rule may apply, each anchored on a rare character (`=`/`:`, `_`, `J`, `K`/`S`,
 * `-----`, `://`) and checked backwards from it with a lookbehind, so ordinary text is rejected at
 * a few gigabytes per second. Each is a superset of what its rules' patterns match.
 */
const TRIGGER_SOURCES = {
  pem: '-----BEGIN',
  /** `name=`/`name:` for every name-anchored rule (presigned-URL params, SigV4, x-access-token, AWS secrets). */
  assignment: `[=:](?<=(?:${ASSIGNED_NAMES})["']?[ \\t]*[=:])`,
  github: '_(?<=gh[pousr]_|github_pat_)',
  jwt: 'J(?<=eyJ)',
  'aws-key-id': '[KS](?<=A[KS])IA',
  bearer: caseless('bearer'),
  url: ':\\/\\/',
} as const;

type TriggerName = keyof typeof TRIGGER_SOURCES;
const TRIGGER_NAMES = Object.keys(TRIGGER_SOURCES) as TriggerName[];

/** A built-in rule: the trigger that must occur first, then the pattern and how to rewrite a match. */
interface BuiltinRule {
  readonly trigger: TriggerName;
  readonly pattern: RegExp;
  /** Replacement for one match; `groups` are the capture groups. */
  readonly replace: (match: string, groups: readonly (string | undefined)[]) => string;
}

const marker = redactionMarker;
// Already-redacted text must not be matched (and counted) twice.
const NOT_REDACTED = '(?!\\[REDACTED-)';

/** Order matters: specific shapes first, so a `Bearer ghp_...` is labelled a GitHub token. */
const BUILTIN_RULES: readonly BuiltinRule[] = [
  {
    trigger: 'pem',
    // To the matching END line; a block cut short (no END) is redacted to the end of the string.
    pattern:
      /-----BEGIN ([A-Z0-9 ]{0,40}?)PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END \1PRIVATE KEY\2-----|$)/g,
    replace: () => marker('PRIVATE-KEY'),
  },
  {
    trigger: 'assignment',
    pattern: new RegExp(
      `(X-Amz-(Signature|Credential|Security-Token)["']?[ \\t]*[=:][ \\t]*["']?)${NOT_REDACTED}([^&\\s"'<>#,;]+)`,
      'gi',
    ),
    replace: (_m, [prefix, name]) => {
      const which = (name ?? '').toLowerCase();
      const label =
        which === 'signature'
          ? 'AWS-SIGNATURE'
          : which === 'credential'
            ? 'AWS-CREDENTIAL'
            : 'AWS-SECURITY-TOKEN';
      return `${prefix}${marker(label)}`;
    },
  },
  {
    trigger: 'assignment',
    // The SigV4 Authorization header: `..., Signature=<64 lowercase hex>`.
    pattern: /(?<![A-Za-z-])(Signature=)[0-9a-f]{64}(?![0-9a-f])/g,
    replace: (_m, [prefix]) => `${prefix}${marker('AWS-SIGNATURE')}`,
  },
  {
    trigger: 'github',
    pattern:
      /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,244})(?![A-Za-z0-9_])/g,
    replace: () => marker('GITHUB-TOKEN'),
  },
  {
    trigger: 'assignment',
    pattern: new RegExp(`(x-access-token:)${NOT_REDACTED}[^@\\s/"'<>]{1,512}(?=@)`, 'gi'),
    replace: (_m, [prefix]) => `${prefix}${marker('GITHUB-TOKEN')}`,
  },
  {
    trigger: 'jwt',
    pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g,
    replace: () => marker('JWT'),
  },
  {
    trigger: 'aws-key-id',
    pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
    replace: () => marker('AWS-ACCESS-KEY-ID'),
  },
  {
    trigger: 'assignment',
    // `aws_secret_access_key = <40>`, `AWS_SECRET_ACCESS_KEY="<40>"`, `"SecretAccessKey": "<40>"`,
    // and session tokens after their names (`aws_session_token=...`, `"SessionToken": "..."`).
    pattern: new RegExp(
      `((?:aws)?[_-]?(?:(secret)[_-]?access[_-]?key|secret[_-]?key|(?:session|security)[_-]?token)["']?[ \\t]*[=:][ \\t]*["']?)${NOT_REDACTED}` +
        '([A-Za-z0-9/+=]{40,2048})(?![A-Za-z0-9/+=])',
      'gi',
    ),
    replace: (_m, [prefix, secret]) => {
      // Any 40+ character run after a secret-key name is masked: a key followed directly by more
      // base64 (`...=`, `/x`) must not slip through because the run is longer than 40.
      const isSecret = secret !== undefined || /secret/i.test(prefix ?? '');
      return `${prefix}${marker(isSecret ? 'AWS-SECRET-KEY' : 'AWS-SECURITY-TOKEN')}`;
    },
  },
  {
    trigger: 'bearer',
    // A token is 8+ characters with a digit, or 20+ with both cases (random base64 without a digit).
    // Plain words ("Bearer of bad news", "Bearer tokens") are left alone.
    pattern: new RegExp(
      `\\b(Bearer|bearer|BEARER)([ \\t]+)${NOT_REDACTED}` +
        '(?:(?=[\\w.~+/-]*\\d)[\\w.~+/-]{8,}|(?=[\\w.~+/-]*[A-Z])(?=[\\w.~+/-]*[a-z])[\\w.~+/-]{20,})=*',
      'g',
    ),
    replace: (_m, [word, space]) => `${word}${space}${marker('BEARER')}`,
  },
  {
    trigger: 'url',
    // scheme://user:password@host; the password runs to the last `@` before the path.
    pattern: new RegExp(
      `(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{0,31}://[^\\s:@/?#"'<>]{0,128}:)${NOT_REDACTED}[^\\s/?#"'<>]{1,256}(?=@)`,
      'g',
    ),
    replace: (_m, [prefix]) => `${prefix}${marker('PASSWORD')}`,
  },
];

/** Every trigger in one global alternation, one capture group each: one scan tells which apply. */
const TRIGGERS = new RegExp(TRIGGER_NAMES.map((name) => `(${TRIGGER_SOURCES[name]})`).join('|'), 'g');
const RULE_TRIGGER_BITS = BUILTIN_RULES.map((rule) => 1 << TRIGGER_NAMES.indexOf(rule.trigger));

/** Bit `i` set when trigger `i` occurs in `s`; 0 for a string no built-in rule applies to. */
function firedTriggers(s: string): number {
  TRIGGERS.lastIndex = 0;
  let mask = 0;
  for (let m = TRIGGERS.exec(s); m !== null; m = TRIGGERS.exec(s)) {
    for (let i = 1; i < m.length; i++) {
      if (m[i] !== undefined) {
        mask |= 1 << (i - 1);
        break;
      }
    }
  }
  return mask;
}

/** Object keys whose string value is a credential as a whole (compared lower-case, without `-`/`_`). */
const SECRET_KEYS: ReadonlyMap<string, string> = new Map([
  ['secretaccesskey', 'AWS-SECRET-KEY'],
  ['awssecretaccesskey', 'AWS-SECRET-KEY'],
  ['awssecretkey', 'AWS-SECRET-KEY'],
  ['sessiontoken', 'AWS-SECURITY-TOKEN'],
  ['awssessiontoken', 'AWS-SECURITY-TOKEN'],
  ['securitytoken', 'AWS-SECURITY-TOKEN'],
  ['awssecuritytoken', 'AWS-SECURITY-TOKEN'],
  ['xamzsecuritytoken', 'AWS-SECURITY-TOKEN'],
  ['xamzsignature', 'AWS-SIGNATURE'],
  ['xamzcredential', 'AWS-CREDENTIAL'],
  ['password', 'PASSWORD'],
  ['passwd', 'PASSWORD'],
]);

const KEY_NORMALIZE = /[-_\s]/g;

/**
 * The label under which the whole string value of an object key is redacted, or `undefined` for
 * ordinary keys. Matches `SecretAccessKey`, `aws_secret_access_key`, `SessionToken`,
 * `aws_session_token`, `X-Amz-Signature`, `X-Amz-Credential`, `X-Amz-Security-Token`, `password`,
 * `passwd` (any case, `-`/`_` ignored).
 */
export function secretLabelForKey(key: string): string | undefined {
  if (key.length > 32) return undefined;
  return SECRET_KEYS.get(key.toLowerCase().replace(KEY_NORMALIZE, ''));
}

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
    return { pattern, replacement: marker(p.label.toUpperCase()) };
  });
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
    const fired = firedTriggers(s);
    let out = fired === 0 ? s : this.applyBuiltins(s, fired);
    if (this.userRules.length > 0) out = this.applyUserRules(out);
    return out;
  }

  /** Counts one whole-value replacement (a secret-named key) and returns its marker. */
  redactWhole(label: string): string {
    this.count++;
    return marker(label);
  }

  private applyBuiltins(s: string, fired: number): string {
    let out = s;
    for (let i = 0; i < BUILTIN_RULES.length; i++) {
      if ((fired & RULE_TRIGGER_BITS[i]!) === 0) continue;
      const rule = BUILTIN_RULES[i]!;
      out = out.replace(rule.pattern, (...args: unknown[]) => {
        const match = args[0] as string;
        // replace() passes: match, ...groups, offset, whole string[, named groups].
        const groupEnd = typeof args[args.length - 1] === 'object' ? args.length - 3 : args.length - 2;
        const groups = args.slice(1, groupEnd) as (string | undefined)[];
        const replaced = rule.replace(match, groups);
        if (replaced !== match) this.count++;
        return replaced;
      });
    }
    return out;
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
 * Every built-in rule applied without consulting the triggers: the reference the trigger scan is
 * tested against (it must never skip a rule that would have matched).
 *
 * @internal
 */
export function redactWithEveryRule(s: string): string {
  return new Redactor()['applyBuiltins'](s, -1);
}

/**
 * Redacts one string with the built-in patterns only (and `extra` patterns, when given). A
 * convenience for tools and tests; the recorder keeps one {@link Redactor} per trace.
 */
export function redactSecrets(s: string, extra?: readonly RedactionPattern[]): string {
  return new Redactor(extra).redact(s);
}

/**
 * Redaction: the one place secrets are recognised and replaced. Every string the recorder writes
 * (values, object keys, event names, markers) passes through a {@link Redactor} before it reaches
 * the spool, so a secret never touches the compressed bytes.
 *
 * The rules are data: {@link BUILTIN_RULES} is a table of `{ label, trigger, keywords, pattern }`
 * rows, one per kind of credential, at least as broad as gitleaks' default configuration (the
 * kind-by-kind comparison is in docs/security-model.md, "Redaction coverage"). A match is replaced
 * by `[REDACTED-<LABEL>]`; the named group `pre` (a parameter name, a URL's scheme and user) is
 * kept in front of the marker. The patterns also recognise their secrets JSON-escaped inside a
 * string (`\"api_key\":\"...\"`, `\n` before a token) and URL-encoded (`%3D`, `%2F`, `%40`), and
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

/** A user-supplied pattern: every match is replaced by `[REDACTED-<label>]`. */
export interface RedactionPattern {
  /** Letters, digits, `-` and `_`; upper-cased in the replacement, e.g. `INTERNAL-TOKEN`. */
  readonly label: string;
  /** Matched against every string; the `g` flag is added when missing. */
  readonly pattern: RegExp;
}

/** Labels of the built-in rules, as they appear in `[REDACTED-<LABEL>]`. */
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
  'BASIC-AUTH',
  'PASSWORD',
  'ANTHROPIC-API-KEY',
  'OPENAI-API-KEY',
  'SLACK-TOKEN',
  'WEBHOOK-URL',
  'STRIPE-KEY',
  'GOOGLE-API-KEY',
  'NPM-TOKEN',
  'GITLAB-TOKEN',
  'API-TOKEN',
  'SECRET',
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

// ---- building blocks -------------------------------------------------------------------------------

/**
 * Left edge of a token: not glued to a word character or `-` (so a long run such as `-eyJ-eyJ...`
 * has one start, not thousands, and matching stays linear), except after an escape that ends in
 * one (`%3D` of URL encoding, `\n` of JSON escaping), which is a boundary in the text it encodes.
 */
const LB = '(?:(?<![\\w-])|(?<=%[0-9A-Fa-f]{2}|\\\\[nrt]))';
/** Right edge of a token. */
const RB = '(?![A-Za-z0-9_])';
// Already-redacted text must not be matched (and counted) twice.
const NOT_REDACTED = '(?!\\[REDACTED-)';
/** An optional quote: plain, JSON-escaped (`\"`) or URL-encoded (`%22`). */
const QUOTE = '(?:\\\\*["\'`]|%2[27])?';
/** Blanks, plain or URL-encoded. */
const BLANKS = '(?:[ \\t]|%20)*';
/** `=`, `:`, `:=`, `=>` and their URL-encoded forms, with optional quotes and blanks around. */
const ASSIGN = `${QUOTE}${BLANKS}(?::{1,3}=|\\?=|=>|[=:]|%3[Dd]|%3[Aa])${BLANKS}${QUOTE}`;
/** The blanks after a scheme word (`Bearer`, `Basic`), also as `+` or `%20` of URL encoding. */
const SCHEME_GAP = '(?:[ \\t+]|%20)+';
/** The names of credential assignments (`<name>=<value>`), any case; the longest forms first. */
const SECRET_NAME_WORDS = [
  'passphrase',
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'api[_-]?key',
  'access[_-]?key',
  'private[_-]?key',
  'secret[_-]?key',
  'license[_-]?key',
  'signing[_-]?key',
  'encryption[_-]?key',
  'master[_-]?key',
  'credentials?',
  'creds',
  'authorization',
  'auth',
];
const SECRET_NAMES = SECRET_NAME_WORDS.map(caseless).join('|');
/** The names of the generic rule (passwords have a rule of their own). */
const GENERIC_SECRET_NAMES = SECRET_NAME_WORDS.slice(4).map(caseless).join('|');
const ASSIGNED_AWS_NAMES = [
  `${caseless('secret')}[_-]?(?:${caseless('access')}[_-]?)?${caseless('key')}`,
  `(?:${caseless('session')}|${caseless('security')})[_-]?${caseless('token')}`,
  `${caseless('x-amz-')}(?:${caseless('signature')}|${caseless('credential')}|${caseless('security-token')})`,
  caseless('signature'),
  caseless('x-access-token'),
].join('|');

/** Token prefixes that end in `_`, checked backwards from the `_` (a rare character in text). */
const UNDERSCORE_PREFIXES =
  '\\b(?:sc|ext|scauth|authress)_|gh[pousr]_|github_pat_|npm_|[rs]k_(?:live|test|prod)_|hf_|api_org_|shp(?:at|ca|pa|ss)_|do[opr]_v1_|glc_|glsa_|lin_api_|ntn_|pscale_(?:tkn|oauth|pw)_|pnu_|rdme_|rubygems_|sntry[su]_|sm_[aps]at_|shippo_(?:live|test)_|duffel_(?:live|test)_|tfp_|fo1_|fm[12][ar]?_|ops_|sgp_|CLOJARS_|FLW(?:SEC|PUB)K_';
/** Token prefixes that end in `-`. */
const DASH_PREFIXES =
  'sk-|v1\\.0-|pypi-|bedrock-api-key-|xox[abeoprs]-|xapp-|gl(?:pat|dt|ft|ffct|imt|agent|oas|rt|soat|cbt|ptt)-|pplx-|pul-|ico-|fio-u-|tk-us-|xkeysib-|PMAK-|HRKU-|NR(?:JS|II|AK)-|sq0(?:atp|csp)-|p8e-|dnkey-|GOCSPX-|s4t2(?:ud|af)-|API-';
const ASSIGN_NAMES = `${SECRET_NAMES}|${ASSIGNED_AWS_NAMES}|${caseless('contribsys__com')}|${caseless('<add key')}`;

/**
 * The prefilter, as families of triggers: a string no trigger matches holds nothing any built-in
 * rule would redact (each family is a superset of its rules' patterns; a property test holds them
 * to it). Every alternative starts with a rare character (`-`, `_`, `=`, `:`, `%`, `J`, `K`, `~`,
 * an upper-case prefix) and checks its context backwards with a lookbehind, so irregexp skips
 * through ordinary text at hundreds of megabytes per second.
 *
 * The families are scanned in three regexes (`scan`), not one: V8 stops skipping ahead once an
 * alternation may start with too many different characters, and one merged regex ran 5-10 times
 * slower than these three together. Only a string some scan matched is scanned again, with a
 * capture group per family, to learn which families (and so which rules) apply.
 */
const FAMILIES = {
  pem: { scan: 0, source: '-----BEGIN|-SECRET-KEY-1' },
  /** `name=` / `name:` / `name%3D` for every name-anchored rule. */
  assign: {
    scan: 0,
    source: `[=:](?<=(?:${ASSIGN_NAMES})${QUOTE}${BLANKS}(?:\\?|:{1,2})?[=:])|%3[DdAa](?<=(?:${ASSIGN_NAMES})${QUOTE}${BLANKS}%3[DdAa])`,
  },
  underscore: { scan: 0, source: `_(?:mmk|gitlab_session)|_(?<=${UNDERSCORE_PREFIXES})` },
  dash: { scan: 0, source: `-(?<=${DASH_PREFIXES})` },
  /** curl's user option. */
  curl: { scan: 0, source: '-u|--user' },
  /** JWTs (`eyJ`), and once more base64-encoded (`ZXlK`). */
  jwt: { scan: 0, source: 'J(?<=eyJ)|K(?<=ZXlK)' },
  bearer: { scan: 0, source: '[Bb](?:earer|EARER)' },
  /** URLs with credentials, plain or URL-encoded; webhook URLs. */
  url: {
    scan: 0,
    source:
      ':\\/\\/|%3[Aa]%2[Ff]%2[Ff]|\\/(?<=hooks\\.slack\\.com\\/|webhook\\.office\\.com\\/|\\/api\\/webhooks\\/)|%2[Ff](?<=hooks\\.slack\\.com%2[Ff])',
  },
  /** Prefixes that start with an upper-case letter (or end in `~`). */
  caps: {
    scan: 1,
    source:
      'A(?:KIA|SIA|BIA|CCA|3T[A-Z0-9]|3-|Iza|KCp|BSK|TATT3)|LTAI|E(?:Z[AT]K|AA[ACM])|SK[0-9a-fA-F]{32}|GR1348941|V(?<=cmV)md|~(?<=sha256~|\\dQ~)|G\\.(?<=SG\\.)',
  },
  /** Prefixes with a `.`, made of lower-case letters and digits, or digits before `|` or `:A`. */
  dotted: {
    scan: 2,
    source:
      '\\.(?<=hv[sb]\\.|\\.atlasv1\\.|dp\\.pt\\.|dt0c01\\.|ya29\\.|[ps]at\\.)|\\.[a-f0-9]{64}(?<=pat[A-Za-z0-9]{14}\\.[a-f0-9]{64})|pi[0-9a-f](?<=dapi.)|4b1d|\\|(?<=\\d{15}\\|)|%7[Cc](?<=\\d{15}%7[Cc])|:A[\\w-]{34}(?<=\\d{5}:A[\\w-]{34})',
  },
} as const;

type Family = keyof typeof FAMILIES;
const FAMILY_NAMES = Object.keys(FAMILIES) as Family[];

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

/** One built-in rule, as data. */
interface BuiltinRule {
  /** The marker's label. */
  readonly label: BuiltinRedactionLabel;
  /** The prefilter family that fires for every string this rule matches. */
  readonly trigger: Family;
  /**
   * Literal substrings, one of which occurs in every match (compared case-sensitively, or against
   * the lower-cased string when `caseless`): the rule's own, exact prefilter.
   */
  readonly keywords: readonly string[];
  /** Global pattern. The named group `pre` is kept before the marker; `secret` is what a `check` sees. */
  readonly pattern: RegExp;
  /** When set, a match is redacted only when this accepts its `secret` group (or the whole match). */
  readonly check?: (secret: string) => boolean;
  /** Keywords are lower-case and tested against the lower-cased string. */
  readonly caseless?: boolean;
}

/** Shannon entropy of `s` in bits per character. */
function entropy(s: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** A property path (`config.apiKey`, `process.env.TOKEN`): a reference in code, not a value. */
const DOTTED_PATH = /^[A-Za-z_$]+(?:\.[A-Za-z_$]+)+$/;
/** Values after a password name that are types, placeholders or references, not passwords. */
const NOT_A_PASSWORD =
  /^(?:string|str|number|int|bool|boolean|any|unknown|null|nil|none|undefined|true|false|required|optional|redacted|x+|\*+|\.\.\.|<[^>]*>?|\$.*|%s|\{.*)$/i;

/** Looks like a generated credential: mixed letters and digits, or long and random. */
function looksLikeSecret(v: string): boolean {
  if (v.length < 8 || DOTTED_PATH.test(v)) return false;
  const digit = /\d/.test(v);
  const letter = /[A-Za-z]/.test(v);
  if (digit && letter) return entropy(v) >= 2.5;
  return v.length >= 20 && /[A-Z]/.test(v) && /[a-z]/.test(v) && entropy(v) >= 3.8;
}

function looksLikePassword(v: string): boolean {
  return !NOT_A_PASSWORD.test(v) && !DOTTED_PATH.test(v);
}

/** A keyword list for a name written in any case (the string is lower-cased before the test). */
const lower = (...words: string[]) => words.map((w) => w.toLowerCase());

/**
 * The built-in rules. Order matters: specific shapes first (a `Bearer ghp_...` is labelled a GitHub
 * token), generic name-based rules last, and a secret already replaced is never matched again.
 */
const BUILTIN_RULES: readonly BuiltinRule[] = [
  // ---- private keys ----
  {
    label: 'PRIVATE-KEY',
    trigger: 'pem',
    keywords: ['-----BEGIN'],
    // To the matching END line; a block cut short (no END) is redacted to the end of the string.
    // Blanks may be URL-encoded (`+`, `%20`) and line breaks JSON-escaped (`\n`).
    pattern:
      /-----BEGIN(?<sp> |\+|%20)((?:[A-Z0-9]{1,20}\k<sp>){0,4}?)PRIVATE\k<sp>KEY(\k<sp>BLOCK)?-----[\s\S]*?(?:-----END\k<sp>\2PRIVATE\k<sp>KEY\3-----|$)/g,
  },
  {
    label: 'PRIVATE-KEY',
    trigger: 'pem',
    keywords: ['AGE-SECRET-KEY-1'],
    pattern: /AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}/g,
  },
  // ---- AWS ----
  ...(
    [
      ['Signature', 'AWS-SIGNATURE'],
      ['Credential', 'AWS-CREDENTIAL'],
      ['Security-Token', 'AWS-SECURITY-TOKEN'],
    ] as const
  ).map(
    ([name, label]): BuiltinRule => ({
      label,
      trigger: 'assign',
      keywords: [`x-amz-${name.toLowerCase()}`],
      caseless: true,
      // The value runs to the next parameter (`&` or its encoding `%26`).
      pattern: new RegExp(
        `(?<pre>${caseless(`X-Amz-${name}`)}${ASSIGN})${NOT_REDACTED}(?:[^&\\s"'<>#,;%\\\\]|%(?!26)[0-9A-Fa-f]{2})+`,
        'g',
      ),
    }),
  ),
  {
    label: 'AWS-SIGNATURE',
    trigger: 'assign',
    keywords: ['Signature='],
    // The SigV4 Authorization header: `..., Signature=<64 lowercase hex>`.
    pattern: /(?<![A-Za-z-])(?<pre>Signature=)[0-9a-f]{64}(?![0-9a-f])/g,
  },
  {
    label: 'AWS-ACCESS-KEY-ID',
    trigger: 'caps',
    keywords: ['AKIA', 'ASIA', 'ABIA', 'ACCA', 'A3T'],
    // (A key id is glued to `_` now and then, `AWS_KEY_AKIA...`; its fixed length keeps this linear.)
    pattern:
      /(?:(?<![A-Za-z0-9])|(?<=%[0-9A-Fa-f]{2}|\\[nrt]))(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
  },
  {
    label: 'AWS-SECRET-KEY',
    trigger: 'assign',
    keywords: ['secret'],
    caseless: true,
    // `aws_secret_access_key = <40>`, `"SecretAccessKey": "<40>"`, JSON-escaped or URL-encoded too.
    // Any 40+ run is masked: a key followed directly by more base64 must not slip through.
    pattern: new RegExp(
      `(?<pre>(?:aws)?[_-]?secret[_-]?(?:access[_-]?)?key${ASSIGN})${NOT_REDACTED}` +
        '(?:[A-Za-z0-9/+=]|%2[BFbf]|%3[Dd]|\\\\/){40,}(?![A-Za-z0-9/+=])',
      'gi',
    ),
  },
  {
    label: 'AWS-SECURITY-TOKEN',
    trigger: 'assign',
    keywords: ['token'],
    caseless: true,
    // Session tokens after their names; no upper bound (they exceed 2 KB).
    pattern: new RegExp(
      `(?<pre>(?:aws)?[_-]?(?:session|security)[_-]?token${ASSIGN})${NOT_REDACTED}` +
        '(?:[A-Za-z0-9/+=]|%2[BFbf]|%3[Dd]|\\\\/){40,}(?![A-Za-z0-9/+=])',
      'gi',
    ),
  },
  {
    label: 'API-TOKEN',
    trigger: 'caps',
    keywords: ['ABSK'],
    // Amazon Bedrock API keys, long-lived.
    pattern: new RegExp(`${LB}ABSK[A-Za-z0-9+/]{100,}={0,2}`, 'g'),
  },
  {
    label: 'API-TOKEN',
    trigger: 'dash',
    keywords: ['bedrock-api-key-'],
    // Amazon Bedrock API keys, short-lived (a presigned URL, base64-encoded).
    pattern: /bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/=%_-]*/g,
  },
  // ---- source hosting and package registries ----
  {
    label: 'GITHUB-TOKEN',
    trigger: 'underscore',
    keywords: ['gh', 'github_pat_'],
    pattern: new RegExp(`${LB}(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})${RB}`, 'g'),
  },
  {
    label: 'GITHUB-TOKEN',
    trigger: 'assign',
    keywords: ['x-access-token:'],
    caseless: true,
    pattern: new RegExp(`(?<pre>x-access-token:)${NOT_REDACTED}[^@\\s/"'<>]{1,512}(?=@)`, 'gi'),
  },
  {
    label: 'GITLAB-TOKEN',
    trigger: 'dash',
    keywords: ['gl'],
    pattern: new RegExp(
      `${LB}(?:gl(?:pat|dt|ft|ffct|imt|agent|oas|rt|soat|ptt)-[\\w-]{20,}(?:\\.[0-9a-z]{9})?|glcbt-[0-9a-zA-Z]{1,5}_[\\w-]{20,})`,
      'g',
    ),
  },
  {
    label: 'GITLAB-TOKEN',
    trigger: 'caps',
    keywords: ['GR1348941'],
    pattern: /GR1348941[\w-]{20,}/g,
  },
  {
    label: 'GITLAB-TOKEN',
    trigger: 'underscore',
    keywords: ['_gitlab_session'],
    pattern: /(?<pre>_gitlab_session=)[0-9a-z]{32,}/g,
  },
  {
    label: 'NPM-TOKEN',
    trigger: 'underscore',
    keywords: ['npm_'],
    pattern: new RegExp(`${LB}npm_[A-Za-z0-9]{36,}${RB}`, 'g'),
  },
  {
    label: 'API-TOKEN',
    trigger: 'underscore',
    keywords: ['rubygems_', 'CLOJARS_'],
    pattern: new RegExp(`${LB}(?:rubygems_[a-f0-9]{48}|CLOJARS_[a-zA-Z0-9]{60})${RB}`, 'g'),
  },
  {
    label: 'API-TOKEN',
    trigger: 'dash',
    keywords: ['pypi-'],
    pattern: new RegExp(`${LB}pypi-AgEIcHlwaS5vcmc[\\w-]{50,}`, 'g'),
  },
  // ---- AI providers ----
  {
    label: 'ANTHROPIC-API-KEY',
    trigger: 'dash',
    keywords: ['sk-ant-'],
    pattern: new RegExp(`${LB}sk-ant-[a-z]{3,8}\\d{2}-[\\w-]{20,}`, 'g'),
  },
  {
    label: 'OPENAI-API-KEY',
    trigger: 'dash',
    keywords: ['sk-'],
    // Project, service-account, admin and legacy keys; anything after `sk-` that looks random.
    pattern: new RegExp(
      `${LB}sk-(?:(?:proj|svcacct|admin|None)-[\\w-]{20,}|(?=[A-Za-z0-9]*\\d)[A-Za-z0-9]{20,})${RB}`,
      'g',
    ),
  },
  {
    label: 'API-TOKEN',
    trigger: 'underscore',
    keywords: ['hf_', 'api_org_'],
    // Hugging Face user and organization tokens.
    pattern: new RegExp(`${LB}(?:hf|api_org)_[A-Za-z]{34}${RB}`, 'g'),
  },
  {
    label: 'API-TOKEN',
    trigger: 'dash',
    keywords: ['pplx-'],
    pattern: new RegExp(`${LB}pplx-[A-Za-z0-9]{48}${RB}`, 'g'),
  },
  // ---- chat and webhooks ----
  {
    label: 'SLACK-TOKEN',
    trigger: 'dash',
    keywords: ['xox', 'xapp-'],
    pattern: new RegExp(
      `${LB}(?:xox[abeoprs]-(?:\\d+-)*[A-Za-z0-9-]{8,}|xoxe\\.xox[bp]-\\d-[A-Za-z0-9]{20,}|xapp-\\d-[A-Z0-9]+-\\d+-[a-z0-9]+)`,
      'g',
    ),
  },
  {
    label: 'WEBHOOK-URL',
    trigger: 'url',
    keywords: ['hooks.slack.com'],
    pattern:
      /(?<pre>hooks\.slack\.com(?:\/|%2[Ff])(?:services|workflows|triggers)(?:\/|%2[Ff]))(?:[A-Za-z0-9+/_-]|%2[Ff]){8,}/g,
  },
  {
    label: 'WEBHOOK-URL',
    trigger: 'url',
    keywords: ['webhook.office.com'],
    pattern: /(?<pre>\.webhook\.office\.com\/webhookb2\/)[A-Za-z0-9@/_-]{20,}/g,
  },
  {
    label: 'WEBHOOK-URL',
    trigger: 'url',
    keywords: ['/api/webhooks'],
    pattern: /(?<pre>discord(?:app)?\.com\/api\/webhooks\/\d+\/)[\w-]{20,}/g,
  },
  // ---- payments and commerce ----
  {
    label: 'STRIPE-KEY',
    trigger: 'underscore',
    keywords: ['k_live_', 'k_test_', 'k_prod_'],
    pattern: new RegExp(`${LB}[rs]k_(?:live|test|prod)_[A-Za-z0-9]{10,}${RB}`, 'g'),
  },
  {
    label: 'API-TOKEN',
    trigger: 'dash',
    keywords: ['sq0'],
    pattern: new RegExp(`${LB}sq0(?:atp|csp)-[\\w-]{22,}`, 'g'),
  },
  {
    label: 'API-TOKEN',
    trigger: 'caps',
    keywords: ['EAA', 'EZAK', 'EZTK'],
    // Square (EAAA), Facebook page tokens (EAAM/EAAC), EasyPost.
    pattern: new RegExp(`${LB}(?:EAAA[\\w-]{22,}|EAA[MC][A-Za-z0-9]{100,}|EZ[AT]K[A-Za-z0-9]{54})${RB}`, 'g'),
  },
  {
    label: 'API-TOKEN',
    trigger: 'underscore',
    keywords: ['shp', 'shippo_', 'duffel_', 'FLW'],
    pattern: new RegExp(
      `${LB}(?:shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|shippo_(?:live|test)_[a-fA-F0-9]{40}|duffel_(?:test|live)_[\\w=-]{43}|FLW(?:SEC|PUB)K_TEST-[a-hA-H0-9]{12,}(?:-X)?)`,
      'g',
    ),
  },
  // ---- cloud and infrastructure ----
  {
    label: 'GOOGLE-API-KEY',
    trigger: 'caps',
    keywords: ['AIza'],
    pattern: new RegExp(`${LB}AIza[\\w-]{35}(?![\\w-])`, 'g'),
  },
  {
    label: 'GOOGLE-API-KEY',
    trigger: 'dotted',
    keywords: ['ya29.'],
    pattern: new RegExp(`${LB}ya29\\.[\\w-]{20,}`, 'g'),
  },
  {
    label: 'GOOGLE-API-KEY',
    trigger: 'dash',
    keywords: ['GOCSPX-'],
    pattern: /GOCSPX-[\w-]{20,}/g,
  },
  {
    label: 'API-TOKEN',
    trigger: 'underscore',
    keywords: ['do', 'fo1_', 'fm', 'glc_', 'glsa_', 'pscale_', 'ops_'],
    // DigitalOcean, Fly.io, Grafana Cloud, PlanetScale, 1Password service accounts.
    pattern: new RegExp(
      `${LB}(?:do[opr]_v1_[a-f0-9]{64}|fo1_[\\w-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3}|glc_[A-Za-z0-9+/]{32,}={0,3}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|pscale_(?:tkn|oauth|pw)_[\\w=.-]{32,}|ops_eyJ[A-Za-z0-9+/]{250,}={0,3})`,
      'g',
    ),
  },
  {
    label: 'API-TOKEN',
    trigger: 'dotted',
    keywords: ['hvs.', 'hvb.', 'atlasv1', 'dp.pt.', 'dt0c01.'],
    // HashiCorp Vault and Terraform Cloud, Doppler, Dynatrace.
    pattern: new RegExp(
      `${LB}(?:hv[sb]\\.[\\w-]{90,}|[a-z0-9]{14}\\.atlasv1\\.[\\w=-]{60,}|dp\\.pt\\.[A-Za-z0-9]{43}|dt0c01\\.[A-Za-z0-9]{24}\\.[A-Za-z0-9]{64})`,
      'g',
    ),
  },
  {
    label: 'API-TOKEN',
    trigger: 'caps',
    keywords: ['SG.'],
    // SendGrid.
    pattern: new RegExp(`${LB}SG\\.[\\w=.-]{66,}`, 'g'),
  },
  {
    label: 'API-TOKEN',
    trigger: 'caps',
    keywords: ['AKCp', 'cmVmd', 'LTAI', 'ATATT3', 'sha256~', 'SK'],
    // Artifactory, Alibaba, Atlassian, OpenShift, Twilio.
    pattern: new RegExp(
      `${LB}(?:AKCp[A-Za-z0-9]{69}|cmVmd[A-Za-z0-9]{59}|LTAI[A-Za-z0-9]{20}|ATATT3[\\w=-]{100,}|sha256~[\\w-]{43}|SK[0-9a-fA-F]{32})${RB}`,
      'g',
    ),
  },
  {
    label: 'API-TOKEN',
    trigger: 'caps',
    keywords: ['Q~'],
    // Azure AD client secrets.
    pattern: /[\w~.]{3}\dQ~[\w~.-]{31,34}(?![\w~.-])/g,
  },
  {
    label: 'API-TOKEN',
    trigger: 'dotted',
    keywords: ['dapi', '4b1d'],
    // Databricks, ClickHouse.
    pattern: new RegExp(`${LB}(?:dapi[a-f0-9]{32}(?:-\\d)?|4b1d[A-Za-z0-9]{38})${RB}`, 'g'),
  },
  {
    label: 'API-TOKEN',
    trigger: 'dash',
    keywords: [
      'PMAK-',
      'pul-',
      'ico-',
      'fio-u-',
      'tk-us-',
      'xkeysib-',
      'HRKU-',
      'NR',
      'p8e-',
      'dnkey-',
      's4t2',
      'API-',
    ],
    // Postman, Pulumi, Infracost, Frame.io, Scalingo, Brevo, Heroku, New Relic, Adobe, Defined
    // Networking, 42 intra, Octopus Deploy.
    pattern: new RegExp(
      `${LB}(?:PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}|pul-[a-f0-9]{40}|ico-[A-Za-z0-9]{32}|fio-u-[\\w=-]{64}|tk-us-[\\w-]{48}|xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}|HRKU-AA[\\w-]{58}|NR(?:JS|II|AK)-[a-z0-9-]{19,}|p8e-[A-Za-z0-9]{32}|dnkey-[\\w=-]{26}-[\\w=-]{52}|s-s4t2(?:ud|af)-[a-f0-9]{64}|API-[A-Z0-9]{26})${RB}`,
      'g',
    ),
  },
  {
    label: 'API-TOKEN',
    trigger: 'underscore',
    keywords: ['lin_api_', 'ntn_', 'pnu_', 'rdme_', 'sntry', 'sm_', 'tfp_', 'sgp_'],
    // Linear, Notion, Prefect, ReadMe, Sentry, SettleMint, Typeform, Sourcegraph.
    pattern: new RegExp(
      `${LB}(?:lin_api_[A-Za-z0-9]{40}|ntn_\\d{11}[A-Za-z0-9]{35}|pnu_[A-Za-z0-9]{36}|rdme_[a-z0-9]{70}|sntryu_[a-f0-9]{64}|sntrys_eyJ[A-Za-z0-9+/=_]{50,}|sm_[aps]at_[A-Za-z0-9]{16}|tfp_[\\w.=-]{59}|sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40})${RB}`,
      'g',
    ),
  },
  {
    label: 'API-TOKEN',
    trigger: 'underscore',
    keywords: ['_mmk'],
    // MaxMind license keys.
    pattern: new RegExp(`${LB}[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk${RB}`, 'g'),
  },
  {
    label: 'API-TOKEN',
    trigger: 'caps',
    keywords: ['A3-'],
    // 1Password secret keys.
    pattern:
      /A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}(?![A-Z0-9])/g,
  },
  {
    label: 'API-TOKEN',
    trigger: 'dash',
    keywords: ['v1.0-'],
    // Cloudflare origin CA keys.
    pattern: new RegExp(`${LB}v1\\.0-[a-f0-9]{24}-[a-f0-9]{146}`, 'g'),
  },
  {
    label: 'API-TOKEN',
    trigger: 'underscore',
    keywords: ['sc_', 'ext_', 'authress_'],
    // Authress service client access keys.
    pattern: new RegExp(
      `${LB}(?:sc|ext|scauth|authress)_[A-Za-z0-9]{5,30}\\.[A-Za-z0-9]{4,6}\\.acc[_-][a-z0-9-]{10,32}\\.[A-Za-z0-9+/_=-]{30,}`,
      'g',
    ),
  },
  {
    label: 'API-TOKEN',
    trigger: 'dotted',
    keywords: ['pat', 'sat.'],
    // Airtable personal access tokens, Harness personal and service account tokens.
    pattern: new RegExp(
      `${LB}(?:pat[A-Za-z0-9]{14}\\.[a-f0-9]{64}|[ps]at\\.[\\w-]{22}\\.[A-Za-z0-9]{24}\\.[A-Za-z0-9]{20})${RB}`,
      'g',
    ),
  },
  {
    label: 'API-TOKEN',
    trigger: 'dotted',
    keywords: [':A'],
    // Telegram bot tokens.
    pattern: /(?<![\w:])\d{5,16}:A[\w-]{34}(?![\w-])/g,
  },
  {
    label: 'API-TOKEN',
    trigger: 'dotted',
    keywords: ['|', '%7C', '%7c'],
    // Facebook app access tokens (`<app id>|<secret>`, the bar URL-encoded or not).
    pattern: /(?<!\d)\d{15,16}(?:\||%7[Cc])[\w-]{27,40}(?![\w-])/g,
  },
  {
    label: 'API-TOKEN',
    trigger: 'jwt',
    keywords: ['eyJrIjoi'],
    // Grafana API keys (base64 JSON, one part).
    pattern: new RegExp(`${LB}eyJrIjoi[A-Za-z0-9]{70,}={0,3}`, 'g'),
  },
  {
    label: 'PASSWORD',
    trigger: 'assign',
    keywords: ['contribsys__com'],
    caseless: true,
    // Sidekiq Enterprise credentials in Bundler's environment (`user:password`).
    pattern: new RegExp(
      `(?<pre>BUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM${ASSIGN})${NOT_REDACTED}[a-f0-9]{8}:[a-f0-9]{8}`,
      'gi',
    ),
  },
  {
    label: 'PASSWORD',
    trigger: 'assign',
    keywords: ['<add key'],
    caseless: true,
    // NuGet.config passwords: `<add key="ClearTextPassword" value="..." />`.
    pattern: new RegExp(
      `(?<pre><add key="(?:ClearText)?Password"\\s*value=")${NOT_REDACTED}[^"]{1,256}`,
      'gi',
    ),
  },
  // ---- tokens by shape ----
  {
    label: 'JWT',
    trigger: 'jwt',
    keywords: ['eyJ'],
    pattern: new RegExp(`${LB}eyJ[\\w-]{2,}\\.eyJ[\\w-]{2,}\\.[\\w-]*`, 'g'),
  },
  {
    label: 'JWT',
    trigger: 'jwt',
    keywords: ['ZXlK'],
    // A JWT base64-encoded once more (`ZXlK` is `eyJ` in base64).
    pattern: new RegExp(`${LB}ZXlK[A-Za-z0-9/+_-]{40,}={0,2}`, 'g'),
  },
  // ---- HTTP authorization ----
  {
    label: 'BEARER',
    trigger: 'bearer',
    keywords: ['bearer'],
    caseless: true,
    // A token is 8+ characters with a digit, or 20+ with both cases (random base64 without a digit).
    // Plain words ("Bearer of bad news", "Bearer tokens") are left alone.
    pattern: new RegExp(
      `${LB}(?<pre>(?:Bearer|bearer|BEARER)${SCHEME_GAP})${NOT_REDACTED}` +
        '(?:(?=[\\w.~+/-]*\\d)[\\w.~+/-]{8,}|(?=[\\w.~+/-]*[A-Z])(?=[\\w.~+/-]*[a-z])[\\w.~+/-]{20,})=*',
      'g',
    ),
  },
  {
    label: 'BASIC-AUTH',
    trigger: 'assign',
    keywords: ['authorization'],
    caseless: true,
    // `Authorization: Basic <base64 user:password>` (the word is too common to take alone).
    pattern: new RegExp(
      `(?<pre>${caseless('authorization')}${ASSIGN}${caseless('basic')}${SCHEME_GAP})${NOT_REDACTED}(?:[A-Za-z0-9+/=]|%2[BbFf]|%3[Dd]){4,}`,
      'g',
    ),
  },
  {
    label: 'API-TOKEN',
    trigger: 'assign',
    keywords: ['authorization'],
    caseless: true,
    // `Authorization: Token <t>` (Django REST, Octopus, ...).
    pattern: new RegExp(
      `(?<pre>${caseless('authorization')}${ASSIGN}(?:${caseless('api-')})?${caseless('token')}${SCHEME_GAP})${NOT_REDACTED}(?:[\\w.~+/=-]|%2[BbFf]|%3[Dd]){8,}`,
      'g',
    ),
  },
  {
    label: 'PASSWORD',
    trigger: 'curl',
    keywords: ['curl'],
    caseless: true,
    // `curl -u user:password` / `--user user:password`.
    pattern: new RegExp(
      `(?<pre>\\b${caseless('curl')}\\b[^\\n]{0,512}?[ \\t](?:-u|--user)[ \\t=]*["']?[^\\s:"']{0,128}:)${NOT_REDACTED}[^\\s"']{1,256}`,
      'g',
    ),
  },
  // ---- connection strings and URLs ----
  {
    label: 'PASSWORD',
    trigger: 'url',
    keywords: ['://'],
    // scheme://user:password@host. Anchored on `://` (the scheme is checked in a lookbehind, not
    // tried at every letter). The password may hold `/`, `#`, `?` and `@`: it runs to the last `@`
    // before a blank or quote. A bare port (`host:8080/path@x`) is not a password.
    pattern: new RegExp(
      `(?<=[A-Za-z][A-Za-z0-9+.-]{0,31})(?<pre>:\\/\\/[^\\s:@/?#"'<>]{0,128}:)${NOT_REDACTED}(?![0-9]{1,5}(?:[/?#]|$))[^\\s"'<>]{1,256}(?=@)`,
      'g',
    ),
  },
  {
    label: 'PASSWORD',
    trigger: 'url',
    keywords: ['%3a%2f%2f'],
    caseless: true,
    // The same inside a URL-encoded URL (`https%3A%2F%2Fuser%3Apass%40host`).
    pattern: new RegExp(
      `(?<=[A-Za-z])(?<pre>%3[Aa]%2[Ff]%2[Ff](?:[A-Za-z0-9._~-]|%(?!3[Aa]|40)[0-9A-Fa-f]{2}){0,128}%3[Aa])${NOT_REDACTED}[^\\s"'<>&]{1,256}(?=%40)`,
      'g',
    ),
  },
  {
    label: 'PASSWORD',
    trigger: 'assign',
    keywords: ['pass', 'pwd'],
    caseless: true,
    // `password=...` in query strings, JDBC and ADO.NET connection strings, env files and JSON
    // text (`PGPASSWORD=`, `;Password=`, `?password=`, `"password": "..."`); quoted values may hold blanks.
    pattern: new RegExp(
      `(?<pre>(?:${caseless('passphrase')}|${caseless('password')}|${caseless('passwd')}|${caseless('pwd')})${ASSIGN})${NOT_REDACTED}` +
        `(?<secret>(?<=["'])[^"'\\\\\\n]{1,256}(?=\\\\*["'])|[^\\s"'\`;,&<>()[\\]{}\\\\]{1,256})`,
      'g',
    ),
    check: looksLikePassword,
  },
  {
    label: 'SECRET',
    trigger: 'assign',
    keywords: lower('key', 'secret', 'token', 'auth', 'cred'),
    caseless: true,
    // Any other `<...secret|token|api_key|...>=<value>` (gitleaks' generic-api-key): the value is
    // redacted when it looks generated (letters and digits, or long and random).
    pattern: new RegExp(
      `(?<pre>(?:${GENERIC_SECRET_NAMES})${ASSIGN})${NOT_REDACTED}` +
        '(?<secret>(?:[\\w.~+/=-]|%2[BFbf]|%3[Dd]){8,})(?=$|[\\s"\'`;,&)\\]}<>\\\\]|%2[26])',
      'g',
    ),
    check: looksLikeSecret,
  },
];

const RULE_FAMILY_BITS = BUILTIN_RULES.map((rule) => 1 << FAMILY_NAMES.indexOf(rule.trigger));

/** The number of built-in rules (rows of the rule table). */
export const BUILTIN_RULE_COUNT = BUILTIN_RULES.length;

// ---- secret-named keys -----------------------------------------------------------------------------

/**
 * Object keys whose value is a credential as a whole, matched against the key lower-cased without
 * `-`, `_`, `.` and blanks: exact names first, then suffixes (`OPENAI_API_KEY` ends in `apikey`,
 * `GITHUB_TOKEN` in `token`). Plurals (`max_tokens`) and neighbours (`token_count`, `public_key`,
 * `password_length`) do not match.
 */
const SECRET_KEYS: ReadonlyMap<string, BuiltinRedactionLabel> = new Map([
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
  ['auth', 'SECRET'],
  ['pass', 'PASSWORD'],
  ['pwd', 'PASSWORD'],
]);
const SECRET_KEY_SUFFIXES: readonly (readonly [RegExp, BuiltinRedactionLabel])[] = [
  [/(?:password|passwd|passphrase)$/, 'PASSWORD'],
  [/privatekey$/, 'PRIVATE-KEY'],
  [/(?:authorization|authtoken|cookie)$/, 'SECRET'],
  [
    /(?:token|apikey|apisecret|secretkey|accesskey|clientsecret|secret|signingkey|encryptionkey|masterkey|licensekey)$/,
    'SECRET',
  ],
  [/^(?:credentials?|creds)$/, 'SECRET'],
];

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

/**
 * Redacts one string with the built-in patterns only (and `extra` patterns, when given). A
 * convenience for tools and tests; the recorder keeps one {@link Redactor} per trace.
 */
export function redactSecrets(s: string, extra?: readonly RedactionPattern[]): string {
  return new Redactor(extra).redact(s);
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUILTIN_REDACTION_LABELS, ConfigError, redactSecrets } from '../src/index.js';
import {
  RedactionFailure,
  Redactor,
  redactWithEveryRule,
  secretLabelForKey,
} from '../src/serialize/redact.js';

// Fixtures are assembled from pieces so no scanner mistakes this file for a leaked credential.
const AKIA = `AKIA${'IOSFODNN7EXAMPLE'}`;
const ASIA = `ASIA${'Y34FZKBOKMUTVV7A'}`;
const SECRET = `wJalrXUtnFEMI/K7MDENG/bPxRfiCY${'EXAMPLEKEY'}`;
const GHP = `ghp_${'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'}`;
const PAT = `github_pat_${'11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU'}`;
const JWT = `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.${'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'}`;
const SIG = 'a'.repeat(20) + '0123456789abcdef'.repeat(2) + 'b'.repeat(12);
const PEM_BODY = 'MIIEowIBAAKCAQEA7Zq\nbGx1c3RyYXRpb24ga2V5\n';
const R36 = 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
const ANTHROPIC = `sk-ant-api03-${R36}${R36}${'x9Y8w7V6u5T4s3R2q1P0o9N8m7L6k5J4i3'}AA`;
const OPENAI_PROJ = `sk-proj-${R36}${R36}T3BlbkFJ${R36}`;
const OPENAI_LEGACY = `sk-${'Ab12Cd34Ef56Gh78Ij90'}T3BlbkFJ${'Kl12Mn34Op56Qr78St90'}`;
const SLACK_BOT = `xoxb-${'1234567890'}-${'1234567890123'}-${'AbCdEfGhIjKlMnOpQrStUvWx'}`;
const SLACK_HOOK = `https://hooks.slack.com/services/T0000000/B0000000/${'XXXXXXXXXXXXXXXXXXXXXXXX'}`;
const STRIPE = `sk_live_${'51H8aBcDeFgHiJkLmNoPqRsTuV'}`;
const GOOGLE = `AIza${'SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q'}`;
const NPM = `npm_${R36}`;
const GITLAB = `glpat-${'Ab3dEf6hIj9lMn2pQr5t'}`;

function redact(s: string) {
  const r = new Redactor();
  const out = r.redact(s);
  return { out, count: r.count };
}

/** Each built-in pattern: strings it must redact (with the expected output) and strings it must leave alone. */
const cases: Record<string, { positive: [string, string][]; negative: string[] }> = {
  'AWS-ACCESS-KEY-ID': {
    positive: [
      [`key=${AKIA}`, 'key=[REDACTED-AWS-ACCESS-KEY-ID]'],
      [`"${ASIA}",`, '"[REDACTED-AWS-ACCESS-KEY-ID]",'],
      [`id ${AKIA}.`, 'id [REDACTED-AWS-ACCESS-KEY-ID].'],
    ],
    negative: [
      `AKIA${'IOSFODNN7EXAMPL'}`, // 15 characters after the prefix
      `AKIA${'IOSFODNN7EXAMPLEX'}`, // 17: part of a longer token
      `akia${'iosfodnn7example'}`,
      `XAKIA${'IOSFODNN7EXAMPLE'}`,
      'ASIA is a continent',
    ],
  },
  'AWS-SECRET-KEY': {
    positive: [
      [`aws_secret_access_key = ${SECRET}`, 'aws_secret_access_key = [REDACTED-AWS-SECRET-KEY]'],
      [`aws_secret_access_key = ${SECRET}=`, 'aws_secret_access_key = [REDACTED-AWS-SECRET-KEY]'],
      [`aws_secret_access_key = ${SECRET}/x`, 'aws_secret_access_key = [REDACTED-AWS-SECRET-KEY]'],
      [`AWS_SECRET_ACCESS_KEY=${SECRET}`, 'AWS_SECRET_ACCESS_KEY=[REDACTED-AWS-SECRET-KEY]'],
      [`"SecretAccessKey": "${SECRET}"`, '"SecretAccessKey": "[REDACTED-AWS-SECRET-KEY]"'],
      [
        `export AWS_SECRET_ACCESS_KEY='${SECRET}'`,
        "export AWS_SECRET_ACCESS_KEY='[REDACTED-AWS-SECRET-KEY]'",
      ],
      [`secretAccessKey: ${SECRET}\n`, 'secretAccessKey: [REDACTED-AWS-SECRET-KEY]\n'],
    ],
    negative: [
      'aws_secret_access_key is required',
      `the value ${SECRET} alone has no name`,
      'secret: hunter2',
    ],
  },
  'AWS-SECURITY-TOKEN': {
    positive: [
      [`aws_session_token=${'FwoGZXIvYXdzEJr'.repeat(4)}`, 'aws_session_token=[REDACTED-AWS-SECURITY-TOKEN]'],
      [
        `?X-Amz-Security-Token=IQoJb3JpZ2luX2VjE%2F&X-Amz-Date=20240101T000000Z`,
        '?X-Amz-Security-Token=[REDACTED-AWS-SECURITY-TOKEN]&X-Amz-Date=20240101T000000Z',
      ],
      ['x-amz-security-token: abcDEF123', 'x-amz-security-token: [REDACTED-AWS-SECURITY-TOKEN]'],
    ],
    negative: ['aws_session_token=short', 'the session token expired', 'X-Amz-Security-Token is a header'],
  },
  'GITHUB-TOKEN': {
    positive: [
      [`token ${GHP}`, 'token [REDACTED-GITHUB-TOKEN]'],
      [`GH=${PAT}`, 'GH=[REDACTED-GITHUB-TOKEN]'],
      [`gho_${'x'.repeat(36)} ghs_${'Y9'.repeat(18)}`, '[REDACTED-GITHUB-TOKEN] [REDACTED-GITHUB-TOKEN]'],
      [
        'git clone https://x-access-token:v1.0123abcdef@github.com/org/repo.git',
        'git clone https://x-access-token:[REDACTED-GITHUB-TOKEN]@github.com/org/repo.git',
      ],
      [
        `https://x-access-token:${GHP}@github.com/o/r`,
        'https://x-access-token:[REDACTED-GITHUB-TOKEN]@github.com/o/r',
      ],
    ],
    negative: [
      `ghp_${'a'.repeat(35)}`,
      `ghx_${'a'.repeat(36)}`,
      `xghp_${'a'.repeat(36)}`,
      'github_pat_short',
      'set the x-access-token header',
    ],
  },
  'PRIVATE-KEY': {
    positive: [
      [
        `before\n-----BEGIN RSA PRIVATE KEY-----\n${PEM_BODY}-----END RSA PRIVATE KEY-----\nafter`,
        'before\n[REDACTED-PRIVATE-KEY]\nafter',
      ],
      [`-----BEGIN PRIVATE KEY-----\n${PEM_BODY}-----END PRIVATE KEY-----`, '[REDACTED-PRIVATE-KEY]'],
      [
        `x -----BEGIN OPENSSH PRIVATE KEY-----\n${PEM_BODY}-----END OPENSSH PRIVATE KEY----- y`,
        'x [REDACTED-PRIVATE-KEY] y',
      ],
      [
        `-----BEGIN PGP PRIVATE KEY BLOCK-----\n${PEM_BODY}-----END PGP PRIVATE KEY BLOCK-----`,
        '[REDACTED-PRIVATE-KEY]',
      ],
      // Cut short (no END line): everything after BEGIN goes.
      [`key: -----BEGIN EC PRIVATE KEY-----\n${PEM_BODY}`, 'key: [REDACTED-PRIVATE-KEY]'],
    ],
    negative: [
      `-----BEGIN PUBLIC KEY-----\n${PEM_BODY}-----END PUBLIC KEY-----`,
      `-----BEGIN CERTIFICATE-----\n${PEM_BODY}-----END CERTIFICATE-----`,
      'a PRIVATE KEY is a secret',
    ],
  },
  BEARER: {
    positive: [
      ['Authorization: Bearer abc123def456', 'Authorization: Bearer [REDACTED-BEARER]'],
      ['authorization: bearer sk-live_0123456789', 'authorization: bearer [REDACTED-BEARER]'],
      ['Bearer AbCdEfGhIjKlMnOpQrStUvWx==', 'Bearer [REDACTED-BEARER]'],
    ],
    negative: [
      'the Bearer of bad news',
      'Bearer',
      'Bearer tokens are described in RFC 6750',
      'Bearer tokenization.',
      // A shell variable reference, not a token.
      `Bearer ${'$'}{TOKEN}`,
      'Bearer abc1', // too short
    ],
  },
  PASSWORD: {
    positive: [
      [
        'postgres://app:s3cr3t@db.internal:5432/app',
        'postgres://app:[REDACTED-PASSWORD]@db.internal:5432/app',
      ],
      ['redis://:hunter2@cache:6379', 'redis://:[REDACTED-PASSWORD]@cache:6379'],
      [
        'mongodb+srv://u:p@ss:w0rd@cluster0.example.net/db',
        'mongodb+srv://u:[REDACTED-PASSWORD]@cluster0.example.net/db',
      ],
      ['amqp://guest:guest@localhost', 'amqp://guest:[REDACTED-PASSWORD]@localhost'],
      // A password holding `/` or `#` (not valid in a URL, common in practice).
      ['postgres://app:p/ss#w0rd@db:5432/app', 'postgres://app:[REDACTED-PASSWORD]@db:5432/app'],
      [
        'jdbc:postgresql://db/app?user=app&password=s3cr3t!',
        'jdbc:postgresql://db/app?user=app&password=[REDACTED-PASSWORD]',
      ],
      [
        'Server=db;Database=app;User Id=sa;Password=P@ssw0rd!;Encrypt=true',
        'Server=db;Database=app;User Id=sa;Password=[REDACTED-PASSWORD];Encrypt=true',
      ],
      ['PGPASSWORD=hunter2 psql -h db', 'PGPASSWORD=[REDACTED-PASSWORD] psql -h db'],
      ['"password": "correct horse battery"', '"password": "[REDACTED-PASSWORD]"'],
      ['curl -u admin:s3cret https://x', 'curl -u admin:[REDACTED-PASSWORD] https://x'],
      [
        'https%3A%2F%2Fapp%3Ap%2Fss%40db.internal%2Fx',
        'https%3A%2F%2Fapp%3A[REDACTED-PASSWORD]%40db.internal%2Fx',
      ],
    ],
    negative: [
      'https://user@example.com/path',
      'https://example.com:8443/path@v2',
      'see http://example.com:80 and mail a@b.c',
      'https://example.com/?q=a:b@c',
      'password: string;',
      'password = os.environ["DB_PASSWORD"]',
      'const password = config.db.password,',
      'PGPASSWORD=$PGPASS psql',
      'the password is required',
    ],
  },
  JWT: {
    positive: [
      [`token=${JWT}`, 'token=[REDACTED-JWT]'],
      [`Authorization: Bearer ${JWT}`, 'Authorization: Bearer [REDACTED-JWT]'],
      ['eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', '[REDACTED-JWT]'],
    ],
    negative: ['eyJhbGciOiJIUzI1NiJ9', 'eyJ.eyJ.x', 'keyJaguar.eyJx.y'],
  },
  'AWS-SIGNATURE': {
    positive: [
      [
        `https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=${SIG}`,
        'https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=[REDACTED-AWS-SIGNATURE]',
      ],
      [
        `AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${'0123456789abcdef'.repeat(4)}`,
        // The credential scope names the access key: the generic rule takes it too.
        'AWS4-HMAC-SHA256 Credential=[REDACTED-SECRET], SignedHeaders=host, Signature=[REDACTED-AWS-SIGNATURE]',
      ],
    ],
    negative: ['X-Amz-Signature is a query parameter', 'Signature=abc', 'X-Amz-Date=20240101T000000Z'],
  },
  'AWS-CREDENTIAL': {
    positive: [
      [
        `?X-Amz-Credential=${AKIA}%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=1`,
        '?X-Amz-Credential=[REDACTED-AWS-CREDENTIAL]&X-Amz-Date=1',
      ],
    ],
    negative: ['the X-Amz-Credential parameter names the key'],
  },
};

Object.assign(cases, {
  'BASIC-AUTH': {
    positive: [
      ['Authorization: Basic dXNlcjpwYXNzd29yZA==', 'Authorization: Basic [REDACTED-BASIC-AUTH]'],
      ['"authorization":"basic dXNlcjpwYXNz"', '"authorization":"basic [REDACTED-BASIC-AUTH]"'],
    ],
    negative: ['Basic usage: run it', 'authorization: basic'],
  },
  'ANTHROPIC-API-KEY': {
    positive: [[`ANTHROPIC_API_KEY=${ANTHROPIC}`, 'ANTHROPIC_API_KEY=[REDACTED-ANTHROPIC-API-KEY]']],
    negative: ['sk-ant-is-a-prefix', 'task-ant-api03-xyz'],
  },
  'OPENAI-API-KEY': {
    positive: [
      [`key ${OPENAI_PROJ}`, 'key [REDACTED-OPENAI-API-KEY]'],
      [`"${OPENAI_LEGACY}"`, '"[REDACTED-OPENAI-API-KEY]"'],
    ],
    negative: ['task-0123456789abcdefghijk', 'sk-learn is a library', 'risk-averse-approach-everywhere'],
  },
  'SLACK-TOKEN': {
    positive: [[`SLACK_BOT=${SLACK_BOT}`, 'SLACK_BOT=[REDACTED-SLACK-TOKEN]']],
    negative: ['xoxb-', 'the xoxo of it'],
  },
  'WEBHOOK-URL': {
    positive: [[SLACK_HOOK, 'https://hooks.slack.com/services/[REDACTED-WEBHOOK-URL]']],
    negative: ['https://hooks.slack.com/services/'],
  },
  'STRIPE-KEY': {
    positive: [
      [`stripe.api_key = "${STRIPE}"`, 'stripe.api_key = "[REDACTED-STRIPE-KEY]"'],
      [`rk_live_${'0123456789abcdef'}`, '[REDACTED-STRIPE-KEY]'],
    ],
    negative: ['sk_live_short', 'pk_live_0123456789abcdef'],
  },
  'GOOGLE-API-KEY': {
    positive: [[`?key=${GOOGLE}&q=1`, '?key=[REDACTED-GOOGLE-API-KEY]&q=1']],
    negative: ['AIza is a prefix', `AIza${'SyA1b2C3'}`],
  },
  'NPM-TOKEN': {
    positive: [
      [`//registry.npmjs.org/:_authToken=${NPM}`, '//registry.npmjs.org/:_authToken=[REDACTED-NPM-TOKEN]'],
    ],
    negative: ['npm_config_nodedir=', `npm_${'a'.repeat(20)}`],
  },
  'GITLAB-TOKEN': {
    positive: [[`PRIVATE-TOKEN: ${GITLAB}`, 'PRIVATE-TOKEN: [REDACTED-GITLAB-TOKEN]']],
    negative: ['glpat-short'],
  },
  'API-TOKEN': {
    positive: [
      [`hf_${'AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh'}`, '[REDACTED-API-TOKEN]'],
      [`dop_v1_${'0123456789abcdef'.repeat(4)}`, '[REDACTED-API-TOKEN]'],
      [
        `SG.${'AbCdEfGhIjKlMnOpQrStUv'}.${'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg'}`,
        '[REDACTED-API-TOKEN]',
      ],
      [`dapi${'0123456789abcdef'.repeat(2)}`, '[REDACTED-API-TOKEN]'],
      [
        `Authorization: Token ${'9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b'}`,
        'Authorization: Token [REDACTED-API-TOKEN]',
      ],
    ],
    negative: ['hf_short', 'SG.example', 'dapi is a prefix'],
  },
  SECRET: {
    positive: [
      [`OPENAI_API_KEY=${'abc123def456ghi789'}`, 'OPENAI_API_KEY=[REDACTED-SECRET]'],
      [`"client_secret": "${'9f8e7d6c5b4a3f2e1d0c'}"`, '"client_secret": "[REDACTED-SECRET]"'],
      [`api_key: ${'Zx81Kq02Lm93Np'}`, 'api_key: [REDACTED-SECRET]'],
      [String.raw`\"token\":\"${'Zx81Kq02Lm93Np'}\"`, String.raw`\"token\":\"[REDACTED-SECRET]\"`],
      [`access_token%3D${'Zx81Kq02Lm93Np'}%26x%3D1`, 'access_token%3D[REDACTED-SECRET]%26x%3D1'],
      [`aws_secret_access_key = ${SECRET.slice(1)}`, 'aws_secret_access_key = [REDACTED-SECRET]'],
    ],
    negative: [
      'token: string',
      'apiKey = config.apiKey',
      'api_key: getTokenFromEnvironment',
      'max_tokens: 100000',
      'secret=changeme',
      'token = await getToken()',
    ],
  },
});

describe('built-in redaction patterns', () => {
  it('covers every built-in label', () => {
    expect(Object.keys(cases).sort()).toEqual([...BUILTIN_REDACTION_LABELS].sort());
  });

  for (const [label, { positive, negative }] of Object.entries(cases)) {
    describe(label, () => {
      for (const [input, expected] of positive) {
        it(`redacts ${JSON.stringify(input.slice(0, 60))}`, () => {
          const { out, count } = redact(input);
          expect(out).toBe(expected);
          expect(count).toBe(expected.split('[REDACTED-').length - 1);
        });
      }
      for (const input of negative) {
        it(`leaves ${JSON.stringify(input.slice(0, 60))} alone`, () => {
          expect(redact(input)).toEqual({ out: input, count: 0 });
        });
      }
    });
  }

  it('redacts several secrets of different kinds in one string and counts each', () => {
    const { out, count } = redact(`a ${AKIA} b ${GHP} c postgres://u:pw@h d Bearer x1234567890`);
    expect(out).toBe(
      'a [REDACTED-AWS-ACCESS-KEY-ID] b [REDACTED-GITHUB-TOKEN] c postgres://u:[REDACTED-PASSWORD]@h d Bearer [REDACTED-BEARER]',
    );
    expect(count).toBe(4);
  });

  it('is idempotent: redacting redacted text changes nothing and counts nothing', () => {
    const once = redactSecrets(
      `https://x-access-token:${GHP}@github.com ${JWT} aws_session_token=${'Ab1/'.repeat(12)}`,
    );
    const r = new Redactor();
    expect(r.redact(once)).toBe(once);
    expect(r.count).toBe(0);
  });

  it('its trigger scan never skips a rule that would match (property)', () => {
    const pieces = [
      AKIA,
      ASIA,
      SECRET,
      GHP,
      PAT,
      JWT,
      SIG,
      `-----BEGIN RSA PRIVATE KEY-----\n${PEM_BODY}-----END RSA PRIVATE KEY-----`,
      'aws_secret_access_key',
      'AWS_SESSION_TOKEN',
      'SecretAccessKey',
      'X-Amz-Signature',
      'x-amz-credential',
      'X-Amz-Security-Token',
      'Signature',
      'x-access-token',
      'Bearer',
      'bearer',
      'postgres://u:',
      'https://',
      'pw@host',
      '=',
      ':',
      '"',
      "'",
      ' ',
      '\t',
      '\n',
      '&',
      '_',
      '-',
      'x'.repeat(40),
      '0123456789abcdef'.repeat(4),
      ANTHROPIC,
      OPENAI_PROJ,
      OPENAI_LEGACY,
      SLACK_BOT,
      SLACK_HOOK,
      STRIPE,
      GOOGLE,
      NPM,
      GITLAB,
      'sk-',
      'password',
      'Password=',
      'api_key',
      'client_secret',
      'Authorization: Basic ',
      'Authorization: Token ',
      'curl -u ',
      'a1b2c3d4e5f6',
      '%3D',
      '%3A%2F%2F',
      '%40',
      '\\"',
      '\\n',
      ';',
      '/',
      '#',
      '@',
    ];
    const text = fc
      .array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 8 })), { maxLength: 24 })
      .chain((parts) =>
        fc.array(fc.boolean(), { minLength: parts.length, maxLength: parts.length }).map((flip) =>
          // Flip the case of some pieces: the case-insensitive rules must still be triggered.
          parts.map((p, i) => (flip[i] && p.length < 30 ? p.toUpperCase() : p)).join(''),
        ),
      );
    fc.assert(
      fc.property(text, (s) => {
        expect(redactSecrets(s)).toBe(redactWithEveryRule(s));
      }),
      { numRuns: 3000 },
    );
  });

  it('returns clean strings unchanged (the same string)', () => {
    const s = 'The quick brown fox read /etc/hosts and wrote 42 lines.';
    expect(redactSecrets(s)).toBe(s);
  });
});

describe('hostile text: redaction stays linear', () => {
  // Each piece repeated to 200,000 characters. A left boundary that let every `-eyJ` of a run start
  // a JWT took 64 s on the first; a safety bound, not a performance target.
  it.each([
    '-eyJ',
    'eyJa.',
    'sk-a',
    '_ghp',
    'ghp_',
    'curl -u ',
    'a://b:',
    '%3A%2F%2F',
    'password=',
    'token=a1',
    'Bearer a1',
    'Authorization: Basic ',
    String.raw`\"token\":\"`,
    'xoxb-1-',
    'hooks.slack.com/services/',
    '-----BEGIN RSA PRIVATE KEY-----',
    'aws_secret_access_key=',
  ])('%j', (piece) => {
    const s = piece.repeat(Math.ceil(200_000 / piece.length));
    const started = performance.now();
    redactSecrets(s);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe('secret-named keys', () => {
  it.each([
    ['SecretAccessKey', 'AWS-SECRET-KEY'],
    ['aws_secret_access_key', 'AWS-SECRET-KEY'],
    ['SessionToken', 'AWS-SECURITY-TOKEN'],
    ['X-Amz-Signature', 'AWS-SIGNATURE'],
    ['x-amz-credential', 'AWS-CREDENTIAL'],
    ['password', 'PASSWORD'],
    ['PASSWD', 'PASSWORD'],
    ['db_password', 'PASSWORD'],
    ['api_key', 'SECRET'],
    ['apiKey', 'SECRET'],
    ['x-api-key', 'SECRET'],
    ['token', 'SECRET'],
    ['access_token', 'SECRET'],
    ['client_secret', 'SECRET'],
    ['authorization', 'SECRET'],
    ['Proxy-Authorization', 'SECRET'],
    ['private_key', 'PRIVATE-KEY'],
    ['privateKey', 'PRIVATE-KEY'],
    ['GITHUB_TOKEN', 'SECRET'],
    ['OPENAI_API_KEY', 'SECRET'],
    ['credentials', 'SECRET'],
    ['cookie', 'SECRET'],
  ])('%s redacts its value as %s', (key, label) => {
    expect(secretLabelForKey(key)).toBe(label);
  });

  it.each([
    'AccessKeyId',
    'password_length',
    'secret_santa',
    'token_count',
    'session_id',
    'max_tokens',
    'input_tokens',
    'cache_read_input_tokens',
    'tokenizer',
    'key',
    'public_key',
    'keys',
    'x'.repeat(100),
  ])('%s is an ordinary key', (key) => {
    expect(secretLabelForKey(key)).toBeUndefined();
  });
});

describe('user patterns', () => {
  it('replaces every match with the upper-cased label and counts them', () => {
    const r = new Redactor([{ label: 'internal-id', pattern: /\bEMP-\d{6}\b/ }]);
    expect(r.redact('EMP-123456 and EMP-654321, not EMP-12')).toBe(
      '[REDACTED-INTERNAL-ID] and [REDACTED-INTERNAL-ID], not EMP-12',
    );
    expect(r.count).toBe(2);
  });

  it('runs after the built-ins and ignores empty matches', () => {
    const r = new Redactor([{ label: 'X', pattern: /z*/y }]);
    expect(r.redact(`abc ${AKIA} zz`)).toBe('abc [REDACTED-AWS-ACCESS-KEY-ID] [REDACTED-X]');
    expect(r.count).toBe(2);
  });

  it('wraps a pattern that throws in RedactionFailure', () => {
    class Hostile extends RegExp {
      override exec(): RegExpExecArray | null {
        throw new Error('boom');
      }
    }
    const r = new Redactor([{ label: 'BAD', pattern: new Hostile('x', 'g') }]);
    expect(() => r.redact('x')).toThrow(RedactionFailure);
  });

  it.each([
    [[{ label: '', pattern: /x/ }], 'redactPatterns[0].label'],
    [[{ label: 'has space', pattern: /x/ }], 'redactPatterns[0].label'],
    [[{ label: 'OK', pattern: 'x' }], 'redactPatterns[0].pattern'],
    [[null], 'redactPatterns[0]'],
    ['nope', 'redactPatterns'],
  ])('rejects malformed patterns with a ConfigError naming the option', (patterns, variable) => {
    let caught: unknown;
    try {
      new Redactor(patterns as never);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(variable);
  });
});

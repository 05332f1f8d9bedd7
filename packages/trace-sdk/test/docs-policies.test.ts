/**
 * The IAM policies in docs/ are what security reviewers copy into their accounts, so they are
 * checked like code: every ```json block in docs/*.md must parse, and every block marked
 * `<!-- iam-policy: <id> -->` must keep its least-privilege shape. Loosening a policy in the docs
 * (an s3 action on the runtime, a wildcard action, a resource outside traces/*) fails this test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DOCS_DIR = fileURLToPath(new URL('../../../docs/', import.meta.url));

interface JsonBlock {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  /** The id from a `<!-- iam-policy: <id> -->` comment directly above the fence, if any. */
  readonly policyId: string | undefined;
}

interface Statement {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: unknown;
  NotPrincipal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

interface Policy {
  Version?: string;
  Statement?: Statement[];
}

const MARKER = /^<!--\s*iam-policy:\s*([a-z0-9-]+)\s*-->$/;

/** Every ```json fence in `markdown`, with the iam-policy marker that precedes it (blank lines allowed). */
function jsonBlocks(file: string, markdown: string): JsonBlock[] {
  const lines = markdown.split('\n');
  const blocks: JsonBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```json') continue;
    const end = lines.findIndex((l, j) => j > i && l.trim() === '```');
    if (end < 0) throw new Error(`${file}:${i + 1}: unterminated json fence`);
    let above = i - 1;
    while (above >= 0 && lines[above]!.trim() === '') above--;
    const marker = above >= 0 ? MARKER.exec(lines[above]!.trim()) : null;
    blocks.push({ file, line: i + 1, text: lines.slice(i + 1, end).join('\n'), policyId: marker?.[1] });
    i = end;
  }
  return blocks;
}

function allBlocks(): JsonBlock[] {
  return readdirSync(DOCS_DIR)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .flatMap((f) => jsonBlocks(f, readFileSync(join(DOCS_DIR, f), 'utf8')));
}

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];
const isS3 = (action: string) => action.toLowerCase().startsWith('s3:');
const hasWildcard = (action: string) => action.includes('*') || action.includes('?');
// BUCKET is the docs' placeholder; real bucket names are lowercase.
const TRACES_RESOURCE = /^arn:aws:s3:::(?:BUCKET|[a-z0-9.-]+)\/traces\/\*$/;

/** Problems common to every policy. */
function basicProblems(policy: Policy): string[] {
  const problems: string[] = [];
  if (policy.Version !== '2012-10-17') problems.push(`Version must be "2012-10-17", got ${policy.Version}`);
  if (!Array.isArray(policy.Statement)) problems.push('Statement must be an array');
  for (const s of policy.Statement ?? []) {
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny')
      problems.push(`Effect must be Allow or Deny: ${s.Effect}`);
    if (s.Effect === 'Allow' && s.NotAction !== undefined)
      problems.push('Allow with NotAction grants everything else');
    if (s.Effect === 'Allow' && s.NotResource !== undefined) problems.push('Allow with NotResource');
  }
  return problems;
}

/** A runtime that uploads by presigned PUT or through the Lambda holds no S3 action at all. */
function noS3Problems(policy: Policy): string[] {
  const problems: string[] = [];
  for (const s of policy.Statement ?? []) {
    for (const a of [...list(s.Action), ...list(s.NotAction)]) {
      if (isS3(a) || a === '*') problems.push(`runtime must hold no S3 action, found ${a}`);
    }
  }
  return problems;
}

/** The runtime using the Lambda transport may invoke exactly one function, nothing else. */
function lambdaRuntimeProblems(policy: Policy): string[] {
  const problems = noS3Problems(policy);
  const allows = (policy.Statement ?? []).filter((s) => s.Effect === 'Allow');
  if (allows.length === 0) problems.push('expected an Allow for lambda:InvokeFunction');
  for (const s of allows) {
    for (const a of list(s.Action)) {
      if (a !== 'lambda:InvokeFunction') problems.push(`only lambda:InvokeFunction is allowed, found ${a}`);
    }
    const resources = list(s.Resource);
    if (resources.length !== 1) problems.push(`exactly one function ARN expected, got ${resources.length}`);
    for (const r of resources) {
      if (!/^arn:aws:lambda:[^:*]+:[^:*]+:function:[^:*]+$/.test(r))
        problems.push(`not one function ARN: ${r}`);
    }
  }
  return problems;
}

/**
 * The orchestrator (to sign URLs) and the uploader Lambda role hold s3:PutObject on traces/* and
 * nothing else in S3; `extraActions` lists the non-S3 actions the role may also hold (e.g. logs).
 */
function putTracesOnlyProblems(policy: Policy, extraActions: readonly string[]): string[] {
  const problems: string[] = [];
  let grantsPut = false;
  for (const s of policy.Statement ?? []) {
    if (s.Effect !== 'Allow') continue;
    const actions = list(s.Action);
    for (const a of actions) {
      if (hasWildcard(a)) problems.push(`wildcard action ${a}`);
      else if (isS3(a) && a !== 's3:PutObject') problems.push(`S3 action other than s3:PutObject: ${a}`);
      else if (!isS3(a) && !extraActions.includes(a)) problems.push(`unexpected action ${a}`);
    }
    if (actions.some(isS3)) {
      if (actions.some((a) => !isS3(a))) problems.push('S3 and non-S3 actions share a statement');
      const resources = list(s.Resource);
      if (resources.length === 0) problems.push('s3:PutObject without a Resource');
      for (const r of resources) {
        if (!TRACES_RESOURCE.test(r)) problems.push(`s3:PutObject outside traces/*: ${r}`);
      }
      if (actions.includes('s3:PutObject')) grantsPut = true;
    }
  }
  if (!grantsPut) problems.push('expected an Allow for s3:PutObject on traces/*');
  return problems;
}

/** The legacy runtime's broad grant, shown as what to remove: it must really be the broad one. */
function legacyProblems(policy: Policy): string[] {
  const puts = (policy.Statement ?? []).filter(
    (s) => s.Effect === 'Allow' && list(s.Action).includes('s3:PutObject'),
  );
  if (puts.length === 0) return ['the legacy policy should show the s3:PutObject it needs'];
  return puts.some((s) => list(s.Resource).some((r) => /^arn:aws:s3:::[^/]+\/\*$/.test(r)))
    ? []
    : ['the legacy policy should show the bucket-wide BUCKET/* resource'];
}

/** The bucket policy of the migration guide denies every non-TLS request. */
function bucketPolicyProblems(policy: Policy): string[] {
  const denyNonTls = (policy.Statement ?? []).some(
    (s) =>
      s.Effect === 'Deny' &&
      list(s.Action).includes('s3:*') &&
      String(s.Condition?.['Bool']?.['aws:SecureTransport']) === 'false',
  );
  return denyNonTls ? [] : ['expected a Deny of s3:* when aws:SecureTransport is false'];
}

/**
 * The signing role's trust policy for the CloudTrail binding: one named principal may assume it
 * and set a SourceIdentity (sts:SetSourceIdentity), nothing broader.
 */
function sourceIdentityTrustProblems(policy: Policy): string[] {
  const problems: string[] = [];
  const allows = (policy.Statement ?? []).filter((s) => s.Effect === 'Allow');
  const actions = allows.flatMap((s) => list(s.Action));
  for (const needed of ['sts:AssumeRole', 'sts:SetSourceIdentity']) {
    if (!actions.includes(needed)) problems.push(`expected ${needed}`);
  }
  for (const a of actions) {
    if (a !== 'sts:AssumeRole' && a !== 'sts:SetSourceIdentity') problems.push(`unexpected action ${a}`);
  }
  for (const s of allows) {
    const principal = (s as { Principal?: unknown }).Principal;
    const aws =
      principal !== null && typeof principal === 'object'
        ? (principal as { AWS?: string | string[] }).AWS
        : principal;
    const arns = list(aws as string | string[] | undefined);
    if (arns.length === 0 || arns.some((p) => p.includes('*')))
      problems.push('the principal must be named, not *');
  }
  return problems;
}

const CHECKS: Record<string, (policy: Policy) => string[]> = {
  'source-identity-trust': sourceIdentityTrustProblems,
  'runtime-presigned-put': noS3Problems,
  'runtime-lambda': lambdaRuntimeProblems,
  orchestrator: (p) => putTracesOnlyProblems(p, []),
  'uploader-lambda-role': (p) =>
    putTracesOnlyProblems(p, ['logs:CreateLogStream', 'logs:PutLogEvents', 'secretsmanager:GetSecretValue']),
  'legacy-runtime': legacyProblems,
  'bucket-policy': bucketPolicyProblems,
};

function problemsOf(id: string, policy: Policy): string[] {
  return [...basicProblems(policy), ...(CHECKS[id]?.(policy) ?? [`unknown iam-policy id ${id}`])];
}

const blocks = allBlocks();
const policies = blocks.filter((b) => b.policyId !== undefined);
const policyById = (id: string): Policy => {
  const block = policies.find((b) => b.policyId === id);
  if (block === undefined) throw new Error(`no <!-- iam-policy: ${id} --> block in docs/`);
  return JSON.parse(block.text) as Policy;
};

describe('docs json blocks', () => {
  it('finds the docs and their json blocks', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it.each(blocks.map((b) => [`${b.file}:${b.line}`, b] as const))('%s parses as JSON', (_where, block) => {
    expect(() => JSON.parse(block.text)).not.toThrow();
  });

  it('marks every IAM policy document with an iam-policy id', () => {
    const unmarked = blocks.filter((b) => {
      const value = JSON.parse(b.text) as unknown;
      return b.policyId === undefined && typeof value === 'object' && value !== null && 'Statement' in value;
    });
    expect(unmarked.map((b) => `${b.file}:${b.line}`)).toEqual([]);
  });
});

describe('docs IAM policies', () => {
  it('has each documented policy exactly once', () => {
    const ids = policies.map((b) => b.policyId).sort();
    expect(ids).toEqual(Object.keys(CHECKS).sort());
  });

  it.each(policies.map((b) => [b.policyId!, b] as const))(
    '%s keeps its least-privilege shape',
    (id, block) => {
      expect(problemsOf(id, JSON.parse(block.text) as Policy)).toEqual([]);
    },
  );
});

// The checks above only protect the docs if they reject loosened policies; these pin that down.
describe('the policy checks reject loosened policies', () => {
  const clone = (p: Policy): Policy => structuredClone(p);

  it('rejects any S3 action on the presigned-PUT runtime, even a narrow one', () => {
    const loosened = clone(policyById('runtime-presigned-put'));
    loosened.Statement = [
      ...(loosened.Statement ?? []),
      { Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::BUCKET/traces/*' },
    ];
    expect(problemsOf('runtime-presigned-put', loosened)).not.toEqual([]);
  });

  it('rejects an S3 action or a second function on the Lambda runtime', () => {
    const withS3 = clone(policyById('runtime-lambda'));
    withS3.Statement!.push({ Effect: 'Allow', Action: ['s3:*'], Resource: '*' });
    expect(problemsOf('runtime-lambda', withS3)).not.toEqual([]);
    const anyFunction = clone(policyById('runtime-lambda'));
    anyFunction.Statement![0]!.Resource = 'arn:aws:lambda:REGION:ACCOUNT_ID:function:*';
    expect(problemsOf('runtime-lambda', anyFunction)).not.toEqual([]);
  });

  it.each(['orchestrator', 'uploader-lambda-role'])('rejects a bucket-wide resource on %s', (id) => {
    const loosened = clone(policyById(id));
    const put = loosened.Statement!.find((s) => list(s.Action).includes('s3:PutObject'))!;
    put.Resource = 'arn:aws:s3:::BUCKET/*';
    expect(problemsOf(id, loosened)).not.toEqual([]);
  });

  it.each(['orchestrator', 'uploader-lambda-role'])('rejects wildcard and extra S3 actions on %s', (id) => {
    for (const action of ['s3:*', 's3:Put*', 's3:GetObject', 's3:DeleteObject', '*']) {
      const loosened = clone(policyById(id));
      const put = loosened.Statement!.find((s) => list(s.Action).includes('s3:PutObject'))!;
      put.Action = [...list(put.Action), action];
      expect(problemsOf(id, loosened), action).not.toEqual([]);
    }
  });

  it('rejects a SourceIdentity trust policy without sts:SetSourceIdentity or with any principal', () => {
    const noSet = clone(policyById('source-identity-trust'));
    noSet.Statement![0]!.Action = 'sts:AssumeRole';
    expect(problemsOf('source-identity-trust', noSet)).not.toEqual([]);
    const anyone = clone(policyById('source-identity-trust')) as Policy & {
      Statement: { Principal?: unknown }[];
    };
    anyone.Statement[0]!.Principal = { AWS: '*' };
    expect(problemsOf('source-identity-trust', anyone)).not.toEqual([]);
  });

  it('rejects a policy without Version 2012-10-17', () => {
    const old = clone(policyById('orchestrator'));
    old.Version = '2008-10-17';
    expect(problemsOf('orchestrator', old)).not.toEqual([]);
  });

  it('rejects Allow with NotAction, which grants everything not listed', () => {
    const loosened = clone(policyById('runtime-presigned-put'));
    loosened.Statement = [{ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }];
    expect(problemsOf('runtime-presigned-put', loosened)).not.toEqual([]);
  });
});

/**
 * The IAM JSON in docs/ (the blocks marked `<!-- iam-policy: <id> -->`) must be what the
 * constructs synthesize, so the docs and the infrastructure cannot drift. One stack wires every
 * role the docs describe; its synthesized statements are rendered with the docs' placeholders
 * (BUCKET, REGION, ACCOUNT_ID, ...) and compared, ignoring Sids (documentation labels) and the
 * order of statements, actions and resources.
 *
 * packages/trace-sdk/test/docs-policies.test.ts checks the same blocks for least-privilege shape.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { TraceBucket, TraceUploader } from '../src/index.js';
import { list, policyOf, roleId, type Statement } from './iam.js';

const DOCS_DIR = fileURLToPath(new URL('../../../docs/', import.meta.url));
const MARKER = /^<!--\s*iam-policy:\s*([a-z0-9-]+)\s*-->$/;

/** Every marked policy block in docs/*.md, by id. */
function documentedPolicies(): Map<string, { where: string; statements: Statement[] }> {
  const found = new Map<string, { where: string; statements: Statement[] }>();
  for (const file of readdirSync(DOCS_DIR).filter((f) => f.endsWith('.md'))) {
    const lines = readFileSync(join(DOCS_DIR, file), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const id = MARKER.exec(lines[i]!.trim())?.[1];
      if (id === undefined) continue;
      const start = lines.findIndex((l, j) => j > i && l.trim() === '```json');
      const end = lines.findIndex((l, j) => j > start && l.trim() === '```');
      const policy = JSON.parse(lines.slice(start + 1, end).join('\n')) as { Statement: Statement[] };
      found.set(id, { where: `${file}:${start + 1}`, statements: policy.Statement });
    }
  }
  return found;
}

/** The one stack behind every documented policy. */
function docsStack(): { template: Template; names: Record<string, string> } {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Docs');
  const role = (id: string, roleName?: string) =>
    new iam.Role(stack, id, { roleName, assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
  const orchestrator = role('Orchestrator', 'agent-trace-orchestrator');
  const presignedRuntime = role('PresignedRuntime');
  const lambdaRuntime = role('LambdaRuntime');
  const legacyRuntime = role('LegacyRuntime');

  const traces = new TraceBucket(stack, 'Traces');
  traces.grantMintUploadUrls(orchestrator);
  const uploader = new TraceUploader(stack, 'Uploader', { traces, functionName: 'agent-trace-uploader' });
  uploader.grantInvoke(lambdaRuntime);
  // What the migration guide starts from: a plain bucket and CDK's own grantPut.
  new s3.Bucket(stack, 'LegacyBucket').grantPut(legacyRuntime);
  void presignedRuntime;

  const template = Template.fromStack(stack);
  const id = (type: string, prefix: string) => {
    const ids = Object.keys(template.findResources(type)).filter((k) => k.startsWith(prefix));
    if (ids.length !== 1) throw new Error(`expected one ${type} ${prefix}*`);
    return ids[0]!;
  };
  // Each resource the docs name, as the docs spell it.
  const names: Record<string, string> = {
    [`${id('AWS::S3::Bucket', 'TracesBucket')}.Arn`]: 'arn:aws:s3:::BUCKET',
    [`${id('AWS::S3::Bucket', 'LegacyBucket')}.Arn`]: 'arn:aws:s3:::BUCKET',
    [`${id('AWS::Lambda::Function', 'UploaderFunction')}.Arn`]:
      'arn:aws:lambda:REGION:ACCOUNT_ID:function:agent-trace-uploader',
    [`${id('AWS::Logs::LogGroup', 'UploaderFunctionLogs')}.Arn`]:
      'arn:aws:logs:REGION:ACCOUNT_ID:log-group:/aws/lambda/agent-trace-uploader:*',
    [id('AWS::SecretsManager::Secret', 'UploaderGrantKeySecret')]:
      'arn:aws:secretsmanager:REGION:ACCOUNT_ID:secret:agent-trace-grant-keys-SUFFIX',
    [`${id('AWS::IAM::Role', 'Orchestrator')}.Arn`]: 'arn:aws:iam::ACCOUNT_ID:role/agent-trace-orchestrator',
    [`${id('AWS::IAM::Role', 'UploaderRole')}.Arn`]: 'arn:aws:iam::ACCOUNT_ID:role/agent-trace-uploader',
  };
  return { template, names };
}

/** A CloudFormation value as the docs write it. */
function render(value: unknown, names: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => render(v, names));
  if (value === null || typeof value !== 'object') return value;
  const v = value as Record<string, unknown>;
  const named = (key: string) => {
    if (!(key in names)) throw new Error(`no docs name for ${key}`);
    return names[key];
  };
  if ('Ref' in v) return named(String(v.Ref));
  if ('Fn::GetAtt' in v) return named((v['Fn::GetAtt'] as string[]).join('.'));
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => render(p, names)).join(sep);
  }
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, render(x, names)]));
}

/** A statement in one canonical spelling: no Sid, sorted lists, `{ AWS: '*' }` as `*`. */
function canonical(statement: Statement): string {
  const { Sid: _sid, ...rest } = statement;
  const out: Record<string, unknown> = { ...rest };
  for (const key of ['Action', 'NotAction', 'Resource', 'NotResource'] as const) {
    if (key in out) out[key] = list(out[key] as string | string[]).sort();
  }
  if (JSON.stringify(out.Principal) === '{"AWS":"*"}') out.Principal = '*';
  if (out.Condition) {
    out.Condition = Object.fromEntries(
      Object.entries(out.Condition as Record<string, Record<string, unknown>>).map(([op, kv]) => [
        op,
        Object.fromEntries(Object.entries(kv).map(([k, x]) => [k, Array.isArray(x) ? [...x].sort() : x])),
      ]),
    );
  }
  return JSON.stringify(sortKeys(out));
}

/** A deep copy with every object's keys in sorted order, for a stable JSON spelling. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}

const canonicalSet = (statements: Statement[]) => statements.map(canonical).sort();

describe('docs IAM policies match the synthesized constructs', () => {
  const docs = documentedPolicies();
  const { template, names } = docsStack();
  const synthesized = (role: string) =>
    render(policyOf(template, roleId(template, role)), names) as Statement[];
  const traceBucketPolicy = () => {
    const bucket = Object.keys(template.findResources('AWS::S3::Bucket')).find((k) =>
      k.startsWith('TracesBucket'),
    )!;
    const [policy] = Object.values(template.findResources('AWS::S3::BucketPolicy')).filter(
      (p) => p.Properties.Bucket.Ref === bucket,
    );
    return render(policy!.Properties.PolicyDocument.Statement, names) as Statement[];
  };

  const cases: [string, () => Statement[]][] = [
    ['runtime-presigned-put', () => synthesized('PresignedRuntime')],
    ['orchestrator', () => synthesized('Orchestrator')],
    ['runtime-lambda', () => synthesized('LambdaRuntime')],
    ['uploader-lambda-role', () => synthesized('UploaderRole')],
    ['legacy-runtime', () => synthesized('LegacyRuntime')],
    ['bucket-policy', traceBucketPolicy],
  ];

  /** Documented policies the constructs do not synthesize: the orchestrator role's own trust policy. */
  const notSynthesized = ['source-identity-trust'];

  it('covers every documented policy', () => {
    expect([...docs.keys()].filter((id) => !notSynthesized.includes(id)).sort()).toEqual(
      cases.map(([id]) => id).sort(),
    );
  });

  it.each(cases)('%s', (id, actual) => {
    const documented = docs.get(id);
    expect(documented, `no <!-- iam-policy: ${id} --> block in docs/`).toBeDefined();
    expect(canonicalSet(documented!.statements), documented!.where).toEqual(canonicalSet(actual()));
  });

  it('would notice a drift (a statement the docs do not show)', () => {
    const docsOrchestrator = docs.get('orchestrator')!.statements;
    const widened = [
      ...synthesized('Orchestrator'),
      { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' },
    ];
    expect(canonicalSet(docsOrchestrator)).not.toEqual(canonicalSet(widened as Statement[]));
  });
});

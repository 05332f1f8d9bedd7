/**
 * The promise, checked on synthesized templates: in every mode, only the orchestrator and the
 * uploader Lambda can write under traces/ (the legacy runtime only behind its opt-in), the runtime
 * holds no S3 write in the presigned and Lambda modes, and no write is granted on `*`.
 */

import type { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { TraceBucket } from '../src/index.js';
import {
  allows,
  arnOf,
  bucketPolicy,
  list,
  logicalId,
  managedPolicies,
  policyOf,
  roleId,
  roleStatements,
  type Statement,
  tracesObjects,
} from './iam.js';
import { lambdaStack, legacyStack, presignedStack } from './stacks.js';

const presignedRuntime = (stack: Stack) => stack.node.findChild('RuntimeRole') as iam.Role;

import { acknowledgments, type Synthesized, synthesize } from './synth.js';

const modes = {
  presigned: synthesize(presignedStack),
  lambda: synthesize(lambdaStack),
  legacy: synthesize(legacyStack),
} satisfies Record<string, Synthesized>;

const BUCKET = 'TracesBucket57487826';
// Actions that write or delete trace objects, or change who may.
const S3_WRITES = [
  's3:PutObject',
  's3:PutObjectAcl',
  's3:DeleteObject',
  's3:RestoreObject',
  's3:PutBucketPolicy',
  's3:PutLifecycleConfiguration',
];

const ids = (s: Synthesized) => ({
  orchestrator: roleId(s.template, 'OrchestratorRole'),
  runtime: roleId(s.template, 'RuntimeRole'),
});

/** Roles holding an Allow for any of `actions`, by logical id. */
function rolesAllowed(s: Synthesized, actions: readonly string[]): string[] {
  const roles = roleStatements(s.template)
    .filter(({ statement }) => actions.some((a) => allows(statement, a)))
    .map(({ role }) => role);
  return [...new Set(roles)].sort();
}

describe('who can write under traces/', () => {
  it('presigned PUT: only the orchestrator (it signs the URLs)', () => {
    const s = modes.presigned;
    expect(rolesAllowed(s, S3_WRITES)).toEqual([ids(s).orchestrator]);
  });

  it('uploader Lambda: only the function role', () => {
    const s = modes.lambda;
    expect(rolesAllowed(s, S3_WRITES)).toEqual([roleId(s.template, 'UploaderRole')]);
  });

  it('legacy: the runtime, and only through the opt-in', () => {
    const s = modes.legacy;
    expect(rolesAllowed(s, S3_WRITES)).toEqual([ids(s).runtime]);
  });

  it.each(Object.entries(modes))('%s: no bucket policy allows a write to the traces bucket', (_mode, s) => {
    const allowsWrite = bucketPolicy(s.template, 'TracesBucket').filter((st) =>
      S3_WRITES.some((a) => allows(st, a)),
    );
    expect(allowsWrite).toEqual([]);
  });

  it.each(Object.entries(modes))(
    '%s: the bucket policy denies traces/ writes to every principal but the granted writers',
    (mode, s) => {
      const writers = {
        presigned: () => [ids(s).orchestrator],
        lambda: () => [roleId(s.template, 'UploaderRole')],
        legacy: () => [ids(s).runtime],
      }[mode as keyof typeof modes]();
      expect(bucketPolicy(s.template, 'TracesBucket')).toContainEqual({
        Sid: 'OnlyTraceWritersWriteTraces',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 's3:PutObject',
        Resource: tracesObjects(BUCKET),
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': writers.map(arnOf) } },
      });
    },
  );
});

describe('the runtime role', () => {
  it('presigned PUT: holds no policy at all', () => {
    const s = modes.presigned;
    expect(policyOf(s.template, ids(s).runtime)).toEqual([]);
    expect(managedPolicies(s.template, ids(s).runtime)).toEqual([]);
  });

  it('uploader Lambda: exactly lambda:InvokeFunction on the one function, no S3', () => {
    const s = modes.lambda;
    expect(policyOf(s.template, ids(s).runtime)).toEqual([
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: arnOf(logicalId(s.template, 'AWS::Lambda::Function', 'UploaderFunction')),
      },
    ]);
    expect(managedPolicies(s.template, ids(s).runtime)).toEqual([]);
  });

  it('legacy: exactly s3:PutObject on traces/*, not grantPut’s Abort*/tagging set on BUCKET/*', () => {
    const s = modes.legacy;
    expect(policyOf(s.template, ids(s).runtime)).toEqual([
      { Effect: 'Allow', Action: 's3:PutObject', Resource: tracesObjects(BUCKET) },
    ]);
  });

  it.each(['presigned', 'lambda'] as const)('%s: no S3 action of any kind', (mode) => {
    const s = modes[mode];
    const s3 = policyOf(s.template, ids(s).runtime).filter((st) =>
      [...list(st.Action), ...list(st.NotAction)].some((a) => a === '*' || a.toLowerCase().startsWith('s3:')),
    );
    expect(s3).toEqual([]);
  });
});

describe('the trusted writers', () => {
  it('orchestrator (presigned): exactly s3:PutObject and s3:GetObject on traces/*', () => {
    const s = modes.presigned;
    expect(policyOf(s.template, ids(s).orchestrator)).toEqual([
      { Effect: 'Allow', Action: 's3:PutObject', Resource: tracesObjects(BUCKET) },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: tracesObjects(BUCKET) },
    ]);
  });

  it('orchestrator (Lambda): reads the grant key and traces, writes nothing', () => {
    const s = modes.lambda;
    expect(policyOf(s.template, ids(s).orchestrator)).toEqual([
      {
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: { Ref: logicalId(s.template, 'AWS::SecretsManager::Secret', 'UploaderGrantKeySecret') },
      },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: tracesObjects(BUCKET) },
    ]);
  });

  it('uploader function role: its log group, the grant-key secret, s3:PutObject on traces/*', () => {
    const s = modes.lambda;
    expect(policyOf(s.template, roleId(s.template, 'UploaderRole'))).toEqual([
      {
        Sid: 'OwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: arnOf(logicalId(s.template, 'AWS::Logs::LogGroup', 'UploaderFunctionLogs')),
      },
      {
        Sid: 'ReadGrantKeys',
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: { Ref: logicalId(s.template, 'AWS::SecretsManager::Secret', 'UploaderGrantKeySecret') },
      },
      { Effect: 'Allow', Action: 's3:PutObject', Resource: tracesObjects(BUCKET) },
    ]);
    expect(managedPolicies(s.template, roleId(s.template, 'UploaderRole'))).toEqual([]);
  });
});

describe('no wildcard resource on a write', () => {
  // The one `*` CDK adds: RotationSchedule's GetRandomPassword, which IAM cannot scope and which reads nothing.
  const UNSCOPABLE = ['secretsmanager:GetRandomPassword'];

  it.each(Object.entries(modes))('%s: every `*` resource is on an unscopable read only', (_mode, s) => {
    const starred: Statement[] = roleStatements(s.template)
      .map(({ statement }) => statement)
      .filter((st) => st.Effect === 'Allow' && list(st.Resource).includes('*'));
    expect(starred.flatMap((st) => list(st.Action)).filter((a) => !UNSCOPABLE.includes(a))).toEqual([]);
  });

  it.each(Object.entries(modes))('%s: every S3 write is on traces/* of the traces bucket', (_mode, s) => {
    const writes = roleStatements(s.template)
      .map(({ statement }) => statement)
      .filter((st) => S3_WRITES.some((a) => allows(st, a)));
    expect(writes.length).toBeGreaterThan(0);
    for (const st of writes) expect(st.Resource).toEqual(tracesObjects(BUCKET));
  });
});

describe('cdk-nag AwsSolutions', () => {
  it.each(['presigned', 'lambda'] as const)('%s: no unacknowledged finding', (mode) => {
    expect(modes[mode].findings).toEqual([]);
  });

  it('legacy: the broad-write finding on the runtime stays visible, and it is the only one', () => {
    expect(modes.legacy.findings).toEqual([
      {
        rule: `AwsSolutions-IAM5[Resource::<${BUCKET}.Arn>/traces/*]`,
        path: 'TraceStack/RuntimeRole/DefaultPolicy/Resource',
      },
    ]);
  });

  it.each([
    ['grantReadTraces', 'after'],
    ['grantMintUploadUrls', 'after'],
    ['grantReadTraces', 'before'],
    ['grantMintUploadUrls', 'before'],
  ] as const)(
    'legacy: the finding stays visible when the runtime role also gets %s (%s the opt-in)',
    (grant, when) => {
      // The trusted grants acknowledge the same finding id (IAM5 on traces/*) on their role; on a
      // role that also holds the legacy grant, that acknowledgment would hide the legacy finding.
      const s = synthesize((stack) => {
        const traces = new TraceBucket(stack, 'Traces');
        const runtime = new iam.Role(stack, 'RuntimeRole', {
          assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
        });
        if (when === 'before') traces[grant](runtime);
        traces.dangerouslyGrantLegacyRuntimePutObject(runtime);
        if (when === 'after') traces[grant](runtime);
      });
      expect(s.findings).toEqual([
        {
          rule: `AwsSolutions-IAM5[Resource::<${BUCKET}.Arn>/traces/*]`,
          path: 'TraceStack/RuntimeRole/DefaultPolicy/Resource',
        },
      ]);
    },
  );

  it('legacy: the opt-in also warns at synth', () => {
    const runtime = modes.legacy.stack.node.findChild('RuntimeRole');
    const warnings = runtime.node.metadata
      .filter((m) => m.type === 'aws:cdk:warning')
      .map((m) => String(m.data));
    expect(warnings).toEqual([expect.stringMatching(/^INSECURE: this agent runtime holds s3:PutObject/)]);
  });

  it('reports a grantPut(runtime) added beside the constructs (the checks do run)', () => {
    const s = synthesize((stack) => presignedStack(stack).traces.bucket.grantPut(presignedRuntime(stack)));
    expect(s.findings.map((f) => `${f.path} ${f.rule}`)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^TraceStack\/RuntimeRole\/DefaultPolicy\/Resource AwsSolutions-IAM5\[Action::s3:Abort\*\]/,
        ),
        `TraceStack/RuntimeRole/DefaultPolicy/Resource AwsSolutions-IAM5[Resource::<${BUCKET}.Arn>/*]`,
      ]),
    );
  });

  it.each(Object.entries(modes))(
    '%s: every acknowledgment names one finding and carries a reason',
    (_m, s) => {
      const acks = acknowledgments(s.stack);
      expect(acks.length).toBeGreaterThan(0);
      for (const ack of acks) {
        expect(ack.rule, ack.path).toMatch(/^AwsSolutions::AwsSolutions-(S1|IAM5\[Resource::[^\]]+\])$/);
        expect(typeof ack.reason === 'string' && ack.reason.length >= 40, `${ack.path} ${ack.rule}`).toBe(
          true,
        );
      }
    },
  );

  it('legacy: nothing acknowledges the runtime role', () => {
    expect(
      acknowledgments(modes.legacy.stack).filter((a) => a.path.startsWith('TraceStack/RuntimeRole')),
    ).toEqual([]);
  });
});

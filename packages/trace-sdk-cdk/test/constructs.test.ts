/**
 * The constructs' configuration, synthesized: bucket hardening and retention, the optional write
 * audit, SSE-KMS grants, the legacy grant's tag scoping, and the uploader function's wiring.
 */
import { ConfigError } from '@agent-trace/trace-sdk';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { BUCKET_ENV, GRANT_KEYS_SECRET_ENV, TraceBucket, TraceUploader } from '../src/index.js';
import { arnOf, logicalId, policyOf, roleId, tracesObjects } from './iam.js';

// CDK's built-in CloudFormation schema validation costs seconds of CPU per process; stacks.test.ts
// runs it over the same constructs, so these configuration checks skip it.
const app = () => new App({ builtinCloudFormationValidation: false });

function synth(define: (stack: Stack) => void): Template {
  const stack = new Stack(app(), 'T', { env: { account: '123456789012', region: 'eu-west-1' } });
  define(stack);
  return Template.fromStack(stack);
}

const role = (stack: Stack, id: string) =>
  new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });

const bucketId = (t: Template) => logicalId(t, 'AWS::S3::Bucket', 'TracesBucket');

describe('TraceBucket', () => {
  const t = synth((stack) => new TraceBucket(stack, 'Traces'));

  it('is private, ACL-less, SSE-S3 encrypted and logs access', () => {
    t.hasResource('AWS::S3::Bucket', {
      Properties: {
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        LoggingConfiguration: {
          DestinationBucketName: { Ref: logicalId(t, 'AWS::S3::Bucket', 'TracesAccessLogs') },
          LogFilePrefix: 'traces-bucket/',
        },
      },
      DeletionPolicy: 'Retain',
    });
  });

  it('expires traces after 7 days and cleans up abandoned multipart uploads', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [
          {
            Id: 'ExpireTraces',
            Status: 'Enabled',
            ExpirationInDays: 7,
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          },
        ],
      },
    });
  });

  it('denies every request without TLS 1.2', () => {
    const bucket = bucketId(t);
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      },
    });
  });

  it('has no trail unless asked', () => {
    t.resourceCountIs('AWS::CloudTrail::Trail', 0);
  });

  it('takes another expiry', () => {
    const short = synth((stack) => new TraceBucket(stack, 'Traces', { expiration: Duration.days(3) }));
    short.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 3 })] },
    });
  });

  it('auditWrites records S3 data events for writes under traces/ only', () => {
    const audited = synth((stack) => new TraceBucket(stack, 'Traces', { auditWrites: true }));
    audited.hasResourceProperties('AWS::CloudTrail::Trail', {
      IsLogging: true,
      EnableLogFileValidation: true,
      EventSelectors: [
        {
          DataResources: [
            {
              Type: 'AWS::S3::Object',
              Values: [{ 'Fn::Join': ['', [arnOf(bucketId(audited)), '/traces/']] }],
            },
          ],
          IncludeManagementEvents: false,
          ReadWriteType: 'WriteOnly',
        },
      ],
    });
  });

  it('auditWrites with your trail adds the traces/ selector and keeps the trail’s management events', () => {
    const shared = synth((stack) => {
      const trail = new cloudtrail.Trail(stack, 'AccountTrail', {
        managementEvents: cloudtrail.ReadWriteType.ALL,
      });
      new TraceBucket(stack, 'Traces', { auditWrites: trail });
    });
    shared.resourceCountIs('AWS::CloudTrail::Trail', 1);
    shared.hasResourceProperties('AWS::CloudTrail::Trail', {
      EventSelectors: [
        { IncludeManagementEvents: true, ReadWriteType: 'All' },
        {
          DataResources: [
            {
              Type: 'AWS::S3::Object',
              Values: [{ 'Fn::Join': ['', [arnOf(bucketId(shared)), '/traces/']] }],
            },
          ],
          IncludeManagementEvents: false,
          ReadWriteType: 'WriteOnly',
        },
      ],
    });
  });

  it('refuses a trail that logs management events by default, which a data-event selector would turn off', () => {
    // CloudTrail logs all management events only while a trail has no event selector; the first
    // selector replaces that default, so adding ours to such a trail would silence it.
    const stack = new Stack(app(), 'T');
    const trail = new cloudtrail.Trail(stack, 'AccountTrail');
    expect(() => new TraceBucket(stack, 'Traces', { auditWrites: trail })).toThrow(
      expect.objectContaining({ name: 'ConfigError', message: expect.stringMatching(/managementEvents/) }),
    );
    // A data-events-only trail (managementEvents: NONE) is fine.
    const dataOnly = new cloudtrail.Trail(stack, 'DataTrail', {
      managementEvents: cloudtrail.ReadWriteType.NONE,
    });
    expect(new TraceBucket(stack, 'Traces2', { auditWrites: dataOnly }).trail).toBe(dataOnly);
  });

  it('with SSE-KMS, writers may generate data keys and readers decrypt, nothing more', () => {
    const t2 = synth((stack) => {
      const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
      const traces = new TraceBucket(stack, 'Traces', { encryptionKey: key });
      traces.grantMintUploadUrls(role(stack, 'Orchestrator'));
      traces.grantReadTraces(role(stack, 'Reader'));
    });
    const key = arnOf(logicalId(t2, 'AWS::KMS::Key', 'Key'));
    expect(policyOf(t2, roleId(t2, 'Orchestrator'))).toEqual([
      { Effect: 'Allow', Action: 's3:PutObject', Resource: tracesObjects(bucketId(t2)) },
      { Effect: 'Allow', Action: 'kms:GenerateDataKey', Resource: key },
    ]);
    expect(policyOf(t2, roleId(t2, 'Reader'))).toEqual([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: tracesObjects(bucketId(t2)) },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: key },
    ]);
    t2.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: key },
          },
        ],
      },
    });
  });

  it('scopes the legacy grant to the runtime’s own prefix when its session carries the user id tag', () => {
    const t2 = synth((stack) => {
      new TraceBucket(stack, 'Traces').dangerouslyGrantLegacyRuntimePutObject(role(stack, 'Runtime'), {
        userIdPrincipalTag: 'agent-trace:user-id',
      });
    });
    expect(policyOf(t2, roleId(t2, 'Runtime'))).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: {
          // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a template
          'Fn::Join': ['', [arnOf(bucketId(t2)), '/traces/${aws:PrincipalTag/agent-trace:user-id}/*']],
        },
      },
    ]);
  });

  it('refuses a principal the writer-restricting bucket policy cannot name', () => {
    const stack = new Stack(app(), 'T');
    const traces = new TraceBucket(stack, 'Traces');
    expect(() => traces.grantMintUploadUrls(new iam.AccountRootPrincipal())).toThrow(ConfigError);
    expect(() =>
      traces.dangerouslyGrantLegacyRuntimePutObject(role(stack, 'R'), { userIdPrincipalTag: 'bad tag*' }),
    ).toThrow(ConfigError);
  });

  it('restrictWriters with no writer granted yet denies traces/ writes to every principal', () => {
    // Nobody was granted write through the construct, so nobody may write: a grantPut added
    // beside it (the mistake the construct exists to stop) must not take effect.
    const t2 = synth((stack) => {
      const traces = new TraceBucket(stack, 'Traces');
      traces.grantReadTraces(role(stack, 'Reader'));
      traces.bucket.grantPut(role(stack, 'Runtime'));
    });
    const statements = Object.values(t2.findResources('AWS::S3::BucketPolicy')).flatMap(
      (r) => r.Properties.PolicyDocument.Statement as { Sid?: string }[],
    );
    expect(statements.filter((s) => s.Sid === 'OnlyTraceWritersWriteTraces')).toEqual([
      {
        Sid: 'OnlyTraceWritersWriteTraces',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 's3:PutObject',
        Resource: tracesObjects(bucketId(t2)),
      },
    ]);
  });

  it('restrictWriters: false leaves the bucket policy to the caller', () => {
    const t2 = synth((stack) => {
      new TraceBucket(stack, 'Traces', { restrictWriters: false }).grantMintUploadUrls(
        role(stack, 'Orchestrator'),
      );
    });
    const statements = Object.values(t2.findResources('AWS::S3::BucketPolicy')).flatMap(
      (r) => r.Properties.PolicyDocument.Statement as { Sid?: string }[],
    );
    expect(statements.filter((s) => s.Sid === 'OnlyTraceWritersWriteTraces')).toEqual([]);
  });
});

describe('TraceUploader', () => {
  const t = synth((stack) => {
    const traces = new TraceBucket(stack, 'Traces');
    new TraceUploader(stack, 'Uploader', { traces, grantKeyRotation: Duration.days(7) });
  });

  it('runs the prebuilt bundle on Node 24 with the bucket and secret in its environment', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 30,
      Role: arnOf(roleId(t, 'UploaderRole')),
      Code: { S3Key: Match.stringLikeRegexp('^[0-9a-f]{64}\\.zip$') },
      Environment: {
        Variables: {
          [BUCKET_ENV]: { Ref: bucketId(t) },
          [GRANT_KEYS_SECRET_ENV]: {
            Ref: logicalId(t, 'AWS::SecretsManager::Secret', 'UploaderGrantKeySecret'),
          },
        },
      },
    });
  });

  it('has Secrets Manager generate the first grant key as {"current":"k0","k0":<64 chars>}', () => {
    t.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: {
        SecretStringTemplate: '{"current":"k0"}',
        GenerateStringKey: 'k0',
        PasswordLength: 64,
        ExcludePunctuation: true,
      },
    });
  });

  it('rotates the grant key on the given schedule with its own function', () => {
    t.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { Ref: logicalId(t, 'AWS::SecretsManager::Secret', 'UploaderGrantKeySecret') },
      RotationLambdaARN: arnOf(logicalId(t, 'AWS::Lambda::Function', 'UploaderRotationFunction')),
      RotationRules: { ScheduleExpression: 'rate(7 days)' },
      RotateImmediatelyOnUpdate: false,
    });
  });

  it('only Secrets Manager acting for this account may invoke the rotation function', () => {
    // Without SourceAccount a service-principal grant is open to that service acting for any
    // account (a confused deputy; Security Hub Lambda.1 reports it as public).
    const permissions = Object.values(t.findResources('AWS::Lambda::Permission'));
    expect(permissions.map((p) => p.Properties)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: arnOf(logicalId(t, 'AWS::Lambda::Function', 'UploaderRotationFunction')),
        Principal: 'secretsmanager.amazonaws.com',
        SourceAccount: '123456789012',
      },
    ]);
  });

  it('the rotation role can change the secret and write its logs, nothing else', () => {
    const secret = { Ref: logicalId(t, 'AWS::SecretsManager::Secret', 'UploaderGrantKeySecret') };
    expect(policyOf(t, roleId(t, 'UploaderRotationRole'))).toEqual([
      {
        Sid: 'OwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: arnOf(logicalId(t, 'AWS::Logs::LogGroup', 'UploaderRotationLogs')),
      },
      {
        Effect: 'Allow',
        Action: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
        ],
        Resource: secret,
      },
      { Effect: 'Allow', Action: 'secretsmanager:GetRandomPassword', Resource: '*' },
    ]);
  });
});

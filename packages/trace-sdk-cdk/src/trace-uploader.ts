/**
 * The uploader Lambda, its grant-key secret and the secret's rotation.
 *
 * @packageDocumentation
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { bundledLambdaDir } from './assets.js';
import { CURRENT_FIELD, GENERATED_SECRET_CHARS, INITIAL_KID } from './grant-keys/format.js';
import { acknowledge } from './nag.js';
import type { TraceBucket } from './trace-bucket.js';

/** Environment variable naming the bucket, as the Python agent and `transportFromEnv` call it. */
export const BUCKET_ENV = 'TRACE_ARTIFACTS_BUCKET_NAME';
/** Environment variable naming the grant-key secret (the uploader function's, and the orchestrator's). */
export const GRANT_KEYS_SECRET_ENV = 'TRACE_GRANT_KEYS_SECRET_ARN';

/** Props of {@link TraceUploader}. */
export interface TraceUploaderProps {
  /** The traces bucket the function writes to. */
  readonly traces: TraceBucket;
  /** Physical function name. Default: generated. */
  readonly functionName?: string | undefined;
  /**
   * How often the grant key rotates. A rotation keeps the key it replaces, so grants must live
   * shorter than this. Default: 30 days.
   */
  readonly grantKeyRotation?: Duration | undefined;
  /** Memory of the uploader function, in MiB. Default 512 (inline bodies are up to 6 MB). */
  readonly memorySize?: number | undefined;
  /** Timeout of the uploader function. Default 30 s. */
  readonly timeout?: Duration | undefined;
  /**
   * Caps concurrent uploads (and so S3 writes) from a flood of invokes, and keeps such a flood from
   * drawing on the account's shared concurrency. Set it in production (see the package README).
   * Default: unreserved, because reserving fails to deploy under a new account's limit of 10.
   */
  readonly reservedConcurrentExecutions?: number | undefined;
  /** Retention of both functions' logs. Default: one month. */
  readonly logRetention?: logs.RetentionDays | undefined;
  /** Code of the uploader function. Default: the bundle built with this package (`index.handler`). */
  readonly code?: lambda.Code | undefined;
  /** For the secret and the log groups. Default: `DESTROY` for logs, `RETAIN` for the secret. */
  readonly removalPolicy?: RemovalPolicy | undefined;
}

/**
 * The uploader Lambda of `lambdaUploaderTransport`: `createUploaderHandler` from
 * `@agent-trace/trace-sdk/lambda`, prebuilt into an asset, verifying upload grants with HMAC keys
 * it reads from a Secrets Manager secret that rotates by key id.
 *
 * Its role holds exactly `s3:PutObject` on `traces/*`, `secretsmanager:GetSecretValue` on the
 * grant-key secret and its own log stream actions. The runtime gets
 * {@link TraceUploader.grantInvoke} and nothing else; the orchestrator gets
 * {@link TraceUploader.grantMintUploadGrants} (and no S3 permission).
 *
 * @example
 * const uploader = new TraceUploader(this, 'Uploader', { traces });
 * uploader.grantInvoke(runtimeRole);
 * uploader.grantMintUploadGrants(orchestratorRole);
 */
export class TraceUploader extends Construct {
  /** The uploader function. */
  readonly function: lambda.Function;
  /** Its execution role. */
  readonly role: iam.Role;
  /** The grant-key secret: `{ "current": "<kid>", "<kid>": "<secret>", ... }`. */
  readonly grantKeySecret: secretsmanager.Secret;
  /** The function Secrets Manager calls to rotate the grant key. */
  readonly rotationFunction: lambda.Function;

  constructor(scope: Construct, id: string, props: TraceUploaderProps) {
    super(scope, id);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    this.grantKeySecret = new secretsmanager.Secret(this, 'GrantKeySecret', {
      description: 'agent-trace upload-grant HMAC keys by key id; rotated by the function beside it',
      // Secrets Manager generates the first key, so grants can be minted before any rotation.
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ [CURRENT_FIELD]: INITIAL_KID }),
        generateStringKey: INITIAL_KID,
        passwordLength: GENERATED_SECRET_CHARS,
        excludePunctuation: true,
      },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    const logGroup = this.logGroup('FunctionLogs', retention, props.removalPolicy);
    this.role = this.functionRole('Role', logGroup);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadGrantKeys',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [this.grantKeySecret.secretArn],
      }),
    );
    props.traces.grantTraceWriter(this.role);

    this.function = new lambda.Function(this, 'Function', {
      functionName: props.functionName,
      description: 'agent-trace uploader: stores a trace at the key its upload grant names',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: props.code ?? lambda.Code.fromAsset(bundledLambdaDir('uploader')),
      role: this.role,
      logGroup,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment: {
        [BUCKET_ENV]: props.traces.bucket.bucketName,
        [GRANT_KEYS_SECRET_ENV]: this.grantKeySecret.secretArn,
      },
    });

    const rotationLogs = this.logGroup('RotationLogs', retention, props.removalPolicy);
    const rotationRole = this.functionRole('RotationRole', rotationLogs);
    this.rotationFunction = new lambda.Function(this, 'RotationFunction', {
      description: 'agent-trace: rotates the upload-grant key (new kid, keeps the previous one)',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(bundledLambdaDir('rotate-grant-keys')),
      role: rotationRole,
      logGroup: rotationLogs,
      memorySize: 256,
      timeout: Duration.seconds(30),
    });
    this.grantKeySecret.addRotationSchedule('Rotation', {
      rotationLambda: this.rotationFunction,
      automaticallyAfter: props.grantKeyRotation ?? Duration.days(30),
      rotateImmediatelyOnUpdate: false,
    });
    // RotationSchedule lets secretsmanager.amazonaws.com invoke the function on behalf of any
    // account; pin it to this one so another account's secret cannot drive it (confused deputy).
    for (const child of this.rotationFunction.node.children) {
      if (child instanceof lambda.CfnPermission && child.principal === 'secretsmanager.amazonaws.com') {
        child.sourceAccount = Stack.of(this).account;
      }
    }
    acknowledge(
      rotationRole,
      'AwsSolutions-IAM5[Resource::*]',
      "CDK's RotationSchedule adds secretsmanager:GetRandomPassword, which IAM only grants on *; it reads " +
        'no secret, and this function generates keys with crypto.randomBytes instead.',
    );
  }

  /**
   * Lets the agent runtime invoke the uploader: exactly `lambda:InvokeFunction` on this one
   * function (no versions or aliases, no S3). The only permission a Lambda-transport runtime needs.
   */
  grantInvoke(runtime: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee: runtime,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [this.function.functionArn],
    });
  }

  /**
   * Lets the orchestrator read the grant-key secret to mint upload grants
   * (`createGrantKeyring` + `createUploadGrant`): exactly `secretsmanager:GetSecretValue` on it.
   */
  grantMintUploadGrants(orchestrator: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee: orchestrator,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: [this.grantKeySecret.secretArn],
    });
  }

  private logGroup(id: string, retention: logs.RetentionDays, removalPolicy?: RemovalPolicy): logs.LogGroup {
    return new logs.LogGroup(this, id, { retention, removalPolicy: removalPolicy ?? RemovalPolicy.DESTROY });
  }

  /** A role Lambda assumes, allowed to write its own log group and nothing else yet. */
  private functionRole(id: string, logGroup: logs.ILogGroup): iam.Role {
    const role = new iam.Role(this, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'OwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    return role;
  }
}

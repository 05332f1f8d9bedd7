/**
 * An adopter's stack for the uploader-Lambda transport, built from `@agent-trace/trace-sdk-cdk`:
 * the traces bucket (with write auditing), the uploader function and its rotating grant key, an
 * orchestrator role that mints grants and reads traces, and an agent runtime role that may only
 * invoke the uploader. `presigned: true` wires the presigned-PUT transport instead.
 *
 * @packageDocumentation
 */
import { TraceBucket, TraceUploader } from '@agent-trace/trace-sdk-cdk';
import { App, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

export interface AgentTraceStackProps extends StackProps {
  /** Presigned PUT instead of the uploader Lambda. Default false. */
  readonly presigned?: boolean;
}

export class AgentTraceStack extends Stack {
  readonly traces: TraceBucket;
  readonly orchestratorRole: iam.Role;
  readonly runtimeRole: iam.Role;
  readonly uploader: TraceUploader | undefined;

  constructor(scope: Construct, id: string, props: AgentTraceStackProps = {}) {
    super(scope, id, props);
    this.orchestratorRole = new iam.Role(this, 'OrchestratorRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'agent-trace example: starts tasks, mints upload grants or URLs, serves traces',
    });
    this.runtimeRole = new iam.Role(this, 'AgentRuntimeRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'agent-trace example: the agent runtime, which holds no S3 permission',
    });

    this.traces = new TraceBucket(this, 'Traces', { auditWrites: true });
    this.traces.grantReadTraces(this.orchestratorRole); // the get-trace-url path

    if (props.presigned) {
      this.traces.grantMintUploadUrls(this.orchestratorRole);
      // The runtime gets nothing: it receives a presigned URL for its one key.
    } else {
      this.uploader = new TraceUploader(this, 'Uploader', { traces: this.traces });
      this.uploader.grantMintUploadGrants(this.orchestratorRole);
      this.uploader.grantInvoke(this.runtimeRole); // the runtime's only permission
      new CfnOutput(this, 'UploaderFunctionName', { value: this.uploader.function.functionName });
      new CfnOutput(this, 'GrantKeySecretArn', { value: this.uploader.grantKeySecret.secretArn });
    }
    new CfnOutput(this, 'TraceArtifactsBucketName', { value: this.traces.bucket.bucketName });
  }
}

/** The example app: one stack per transport. */
export function buildApp(app = new App()): { app: App; lambda: AgentTraceStack; presigned: AgentTraceStack } {
  return {
    app,
    lambda: new AgentTraceStack(app, 'AgentTraceLambda'),
    presigned: new AgentTraceStack(app, 'AgentTracePresigned', { presigned: true }),
  };
}

/**
 * The three deployments the tests synthesize, one per transport, each with an orchestrator role
 * and an agent runtime role as an adopter's stack would have them.
 */
import type { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { TraceBucket, TraceUploader } from '../src/index.js';

export interface Roles {
  readonly orchestrator: iam.Role;
  readonly runtime: iam.Role;
  readonly traces: TraceBucket;
}

function roles(stack: Stack): Omit<Roles, 'traces'> {
  return {
    orchestrator: new iam.Role(stack, 'OrchestratorRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
    }),
    runtime: new iam.Role(stack, 'RuntimeRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
    }),
  };
}

/** Presigned PUT: the orchestrator signs URLs and reads traces; the runtime holds nothing. */
export function presignedStack(stack: Stack): Roles {
  const r = roles(stack);
  const traces = new TraceBucket(stack, 'Traces', { auditWrites: true });
  traces.grantMintUploadUrls(r.orchestrator);
  traces.grantReadTraces(r.orchestrator);
  return { ...r, traces };
}

/** Uploader Lambda: the runtime may invoke the function; the orchestrator reads the grant key. */
export function lambdaStack(stack: Stack): Roles & { uploader: TraceUploader } {
  const r = roles(stack);
  const traces = new TraceBucket(stack, 'Traces');
  const uploader = new TraceUploader(stack, 'Uploader', { traces, functionName: 'agent-trace-uploader' });
  uploader.grantInvoke(r.runtime);
  uploader.grantMintUploadGrants(r.orchestrator);
  traces.grantReadTraces(r.orchestrator);
  return { ...r, traces, uploader };
}

/** Legacy PutObject, behind the loud opt-in. */
export function legacyStack(stack: Stack): Roles {
  const r = roles(stack);
  const traces = new TraceBucket(stack, 'Traces');
  traces.dangerouslyGrantLegacyRuntimePutObject(r.runtime);
  return { ...r, traces };
}

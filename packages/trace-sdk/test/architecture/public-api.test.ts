/**
 * The public surface is a promise: every name each entry point exports, with its kind. Adding or
 * removing a name fails here on purpose; update the list only for a deliberate API change (and
 * say so in the changelog). Type-only exports are read from the entry files' export lists.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as root from '../../src/index.js';
import * as aiSdk from '../../src/integrations/ai-sdk/index.js';
import * as claudeAgentSdk from '../../src/integrations/claude-agent-sdk/index.js';
import * as langchain from '../../src/integrations/langchain/index.js';
import * as openaiAgents from '../../src/integrations/openai-agents/index.js';
import * as otelGenai from '../../src/integrations/otel-genai/index.js';
import * as lambda from '../../src/lambda/index.js';
import * as orchestrator from '../../src/orchestrator/index.js';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function kinds(mod: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(mod).sort()) {
    const value = mod[name];
    out[name] =
      typeof value === 'function'
        ? /^class\s/.test(Function.prototype.toString.call(value))
          ? 'class'
          : 'function'
        : typeof value;
  }
  return out;
}

/** Names exported as types only (`type X` inside an export list, or `export type { ... }`). */
function typeNames(entry: string): string[] {
  const text = readFileSync(resolve(SRC, entry), 'utf8');
  const names = new Set<string>();
  for (const m of text.matchAll(/export\s+type\s*\{([^}]*)\}/g)) {
    for (const n of m[1]!.split(',')) if (n.trim()) names.add(n.trim());
  }
  for (const m of text.matchAll(/export\s*\{([^}]*)\}/g)) {
    for (const n of m[1]!.split(',')) {
      const t = n.trim();
      if (t.startsWith('type ')) names.add(t.slice(5).trim());
    }
  }
  return [...names].sort();
}

describe('the root entry @agent-trace/trace-sdk', () => {
  it('exports exactly these values', () => {
    expect(kinds(root)).toMatchInlineSnapshot(`
      {
        "AttributionError": "class",
        "BUILTIN_REDACTION_LABELS": "object",
        "ConfigError": "class",
        "DEFAULT_CHECKPOINTS": "object",
        "DEFAULT_DELIVERY_TIMEOUT_MS": "number",
        "DEFAULT_MAX_BYTES": "number",
        "DEFAULT_MAX_EVENT_BYTES": "number",
        "DEFAULT_MAX_TEXT_CHARS": "number",
        "DEFAULT_MAX_TOOL_RESULT_CHARS": "number",
        "DEFAULT_REDELIVERY": "object",
        "DEFAULT_RETRY_POLICY": "object",
        "DEFAULT_SIGNAL_GRACE_MS": "number",
        "GrantError": "class",
        "OUTPUT_SCREENING": "string",
        "POLICY_DECISION": "string",
        "RecorderStateError": "class",
        "S3_PUT_OBJECT_WARNING_CODE": "string",
        "SCHEMA_VERSION": "number",
        "SpoolError": "class",
        "TRACE_CONTENT_TYPE": "string",
        "TRACE_KEY_PREFIX": "string",
        "TRAJECTORY_ARTIFACT_HEADER": "string",
        "TRAJECTORY_RESULT": "string",
        "TRAJECTORY_TURN": "string",
        "TraceError": "class",
        "TraceFormatError": "class",
        "TraceKeyError": "class",
        "UploadError": "class",
        "artifactFromBuffer": "function",
        "artifactFromFile": "function",
        "createTraceRecorder": "function",
        "defaultSpoolDir": "function",
        "describeUrl": "function",
        "fileTransport": "function",
        "finishOnSignal": "function",
        "isRetryableStatus": "function",
        "isValidId": "function",
        "lambdaUploaderTransport": "function",
        "listSpooled": "function",
        "parseTraceKey": "function",
        "presignedPutTransport": "function",
        "readTrace": "function",
        "readTraceHeader": "function",
        "readTraceLines": "function",
        "redactSecrets": "function",
        "redeliverSpooled": "function",
        "s3PutObjectTransport": "function",
        "traceAttribution": "function",
        "traceKey": "function",
        "transportFromConfig": "function",
        "transportFromEnv": "function",
        "uploadSpooled": "function",
        "userPrefix": "function",
        "withRetry": "function",
      }
    `);
  });

  it('exports exactly these types', () => {
    expect(typeNames('index.ts')).toMatchInlineSnapshot(`
      [
        "ArtifactHeader",
        "AttributionErrorReason",
        "BuiltinRedactionLabel",
        "CheckpointOptions",
        "CheckpointStats",
        "ClaimedAttribution",
        "FileTransportOptions",
        "FinishFailed",
        "FinishOnSignalOptions",
        "FinishOptions",
        "FinishResult",
        "FinishResultBase",
        "FinishSkipped",
        "FinishUploaded",
        "GrantErrorCode",
        "HttpPutOptions",
        "KnownTraceEvent",
        "LambdaUploaderOptions",
        "OutputScreeningEvent",
        "OutputScreeningInput",
        "PolicyDecisionEvent",
        "PolicyDecisionInput",
        "PresignedPutOptions",
        "ReadTraceHeaderOptions",
        "ReadTraceOptions",
        "RecorderLimits",
        "RecorderStats",
        "RedactHook",
        "RedactionPattern",
        "RedeliverOptions",
        "RedeliverResult",
        "ResultInput",
        "RetryEvent",
        "RetryPolicy",
        "S3PutObjectOptions",
        "SpoolAuthorizer",
        "SpoolBrokenEntry",
        "SpoolEntry",
        "SpoolScope",
        "SpoolSkipReason",
        "SpoolSpillEntry",
        "SpooledArtifact",
        "SpooledClaim",
        "SpooledLastError",
        "SpooledSidecar",
        "ToolCallInput",
        "ToolCallRecord",
        "ToolResultContent",
        "ToolResultInput",
        "ToolResultRecord",
        "TraceArtifact",
        "TraceAttributionReport",
        "TraceEvent",
        "TraceFormatErrorCode",
        "TraceHeaderLine",
        "TraceKeyErrorReason",
        "TraceKeyParts",
        "TraceLineRecord",
        "TraceRecorder",
        "TraceRecorderOptions",
        "TraceSource",
        "TraceTransport",
        "TrajectoryResultEvent",
        "TrajectoryTurnEvent",
        "TransportConfig",
        "TransportKind",
        "TrustedAttribution",
        "TrustedTraceContext",
        "TurnInput",
        "UploadErrorCode",
        "UploadGrantRequest",
        "UploadOptions",
        "UploadReceipt",
        "UploadSpooledOptions",
        "UploadSpooledResult",
        "UploadUrlRequest",
        "UploadUrlResult",
      ]
    `);
  });

  it('has no `export *`, so every promised name is listed here', () => {
    for (const entry of ['index.ts', 'orchestrator/index.ts', 'lambda/index.ts']) {
      expect(readFileSync(resolve(SRC, entry), 'utf8'), entry).not.toMatch(/export\s+\*/);
    }
  });
});

describe('the ./orchestrator and ./lambda subpaths', () => {
  it('export exactly these values', () => {
    expect({ orchestrator: kinds(orchestrator), lambda: kinds(lambda) }).toMatchInlineSnapshot(`
      {
        "lambda": {
          "DEFAULT_MAX_HEADER_LINE_BYTES": "number",
          "DEFAULT_MAX_OBJECT_BYTES": "number",
          "LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES": "number",
          "MAX_GRANT_CLOCK_SKEW_MS": "number",
          "checkArtifactHeader": "function",
          "createUploaderHandler": "function",
          "readUploadGrantClaims": "function",
          "verifyUploadGrant": "function",
        },
        "orchestrator": {
          "ATTRIBUTION_METADATA": "object",
          "DEFAULT_GRANT_CLOCK_SKEW_MS": "number",
          "DEFAULT_MAX_GRANT_LIFETIME_SECONDS": "number",
          "DEFAULT_MAX_TRACE_OBJECT_BYTES": "number",
          "MAX_GRANT_TOKEN_CHARS": "number",
          "MAX_PRESIGN_EXPIRES_IN": "number",
          "MIN_GRANT_SECRET_BYTES": "number",
          "S3_MAX_PUT_BYTES": "number",
          "UNATTRIBUTED_METADATA": "object",
          "assumeRoleWithSourceIdentity": "function",
          "attributionMetadata": "function",
          "createSourceIdentityS3Client": "function",
          "createTraceS3Client": "function",
          "createTraceUploadUrl": "function",
          "createUploadGrant": "function",
          "isValidOperator": "function",
          "readAttributionMetadata": "function",
          "sourceIdentityOf": "function",
        },
      }
    `);
  });
});

describe('the framework adapter subpaths', () => {
  it('export exactly these values', () => {
    expect({
      'ai-sdk': kinds(aiSdk),
      'claude-agent-sdk': kinds(claudeAgentSdk),
      langchain: kinds(langchain),
      'openai-agents': kinds(openaiAgents),
      'otel-genai': kinds(otelGenai),
    }).toMatchInlineSnapshot(`
      {
        "ai-sdk": {
          "recordAiSdkStep": "function",
          "traceAiSdk": "function",
        },
        "claude-agent-sdk": {
          "ClaudeTurnRecorder": "class",
          "traceOptions": "function",
          "traceQuery": "function",
        },
        "langchain": {
          "AgentTraceCallbackHandler": "class",
        },
        "openai-agents": {
          "AgentTraceProcessor": "class",
        },
        "otel-genai": {
          "GenAiSpanProcessor": "class",
        },
      }
    `);
  });
});

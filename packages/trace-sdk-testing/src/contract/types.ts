/**
 * The interface between the transport contract suite and the transport under test: what the
 * suite hands to `setup` ({@link ContractContext}) and what `setup` returns ({@link ContractTarget}).
 *
 * @packageDocumentation
 */
import type { TraceTransport } from '@agent-trace/trace-sdk';
import type { FaultInjector, FaultMatch } from '../local-s3/faults.js';
import type { LocalS3 } from '../local-s3/server.js';
import type { LocalS3Credentials } from '../local-s3/sigv4-verify.js';

/** What a stored object looks like to the suite. */
export interface StoredObjectHeaders {
  readonly size: number;
  /** `Content-Type` as stored. */
  readonly contentType: string | undefined;
  /** `Content-Encoding` as stored (must be absent for traces). */
  readonly contentEncoding: string | undefined;
  /**
   * User metadata as stored (`x-amz-meta-*`, names lowercased without the prefix). Needed by the
   * attribution test only.
   */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/** Reads what landed in a store, for the suite's assertions. */
export interface ObjectReader {
  /** The bytes stored at `key`, or `undefined` when nothing is there. */
  read(key: string): Promise<Buffer | undefined>;
  /** Headers stored with `key`, or `undefined` when nothing is there. */
  stat(key: string): Promise<StoredObjectHeaders | undefined>;
  /** Every key stored under `prefix` (default: everything). */
  list(prefix?: string): Promise<string[]>;
}

/** Everything a `setup` call may use. A fresh one (fresh local S3, fresh ids) per test. */
export interface ContractContext {
  /** A local S3 for this test only, with {@link ContractContext.bucket} created. */
  readonly s3: LocalS3;
  /** The bucket traces go to. */
  readonly bucket: string;
  /** The user the transport acts for. */
  readonly userId: string;
  /** The task of this upload (distinct per `setup` call, e.g. in the parallel test). */
  readonly taskId: string;
  /** `traceKey({ userId, taskId })`: where the artifact must land. */
  readonly key: string;
  /** Another user, whose prefix the transport must never write. */
  readonly otherUserId: string;
  /**
   * Credentials the local S3 accepts only for keys under `traces/<userId>/` (as an IAM session
   * policy would scope a runtime). `s3.credentials` may write anywhere (orchestrator, Lambda role).
   */
  readonly userCredentials: LocalS3Credentials;
  /** A reader over {@link ContractContext.bucket} of the local S3: spread it into the target. */
  readonly objects: ObjectReader;
  /** A temp directory for this test only, removed afterwards (for file-based transports). */
  readonly tmpDir: string;
  /**
   * Who started this task, as the trusted side would state it when authorizing the upload: bind
   * these into the credential (URL, grant) when your transport supports attribution, and report
   * the metadata that must land in {@link ContractTarget.attribution}. Fresh per test; the operator
   * is STS-`SourceIdentity`-clean (letters, digits and `_+=,.@-`, 2 to 64 characters).
   */
  readonly attribution: ContractAttribution;
}

/** The attribution of one contract test's task. */
export interface ContractAttribution {
  /** The human operator (as STS `SourceIdentity` would carry it). */
  readonly operator: string;
  /** The orchestrator's session id. */
  readonly sessionId: string;
}

/** A capability the transport lacks, with the reason shown on the skipped tests. */
export interface Unsupported {
  readonly unsupported: string;
}

/** `true` (the default) or `unsupported(reason)`. */
export type Capability = true | Unsupported;

/**
 * What the transport can be tested for. Everything defaults to supported, so a transport that
 * lacks something must say so, with a reason: skips are explicit, never silent.
 */
export interface TransportCapabilities {
  /**
   * Faults injected through {@link ContractTarget.faults} reach the transport's requests (500,
   * 503 SlowDown, connection resets, a hung server). Unsupported for transports with no network.
   */
  readonly networkFaults?: Capability | undefined;
  /**
   * After `403 AccessDenied "Request has expired"` the transport gets a fresh URL (or credential)
   * once and succeeds. Unsupported for fixed URLs and transports without expiring credentials.
   */
  readonly refreshOnExpiry?: Capability | undefined;
  /** Content-Type and Content-Encoding are stored and readable through `stat`. */
  readonly contentHeaders?: Capability | undefined;
  /** An artifact for another user's key is refused and nothing lands outside the user's prefix. */
  readonly userScoped?: Capability | undefined;
  /** A 200 MB body uploads with bounded memory. */
  readonly largeBody?: Capability | undefined;
  /**
   * The stored object carries the attribution metadata its credential was bound to. Opt-in: set
   * {@link ContractTarget.attribution} (and, under jest, `attribution: true` in the options), or
   * declare `unsupported(why)`. Left undeclared, the test is skipped saying so.
   */
  readonly attribution?: Capability | undefined;
  /**
   * Largest growth of the process's RSS (and of live JS heap + buffers) allowed while uploading
   * the 200 MB body. Default 96 MiB: comfortably above streaming (or multipart) overhead, far
   * below the body itself.
   */
  readonly maxMemoryGrowthBytes?: number | undefined;
}

/** What `setup` returns: the transport under test and how to see what it stored. */
export interface ContractTarget {
  /** The transport under test, configured for `ctx.userId`/`ctx.taskId` (and `ctx.key`). */
  readonly transport: TraceTransport;
  /** The bytes stored at `key`, or `undefined`. Use `ctx.objects.read` when it stores into `ctx.s3`. */
  read(key: string): Promise<Buffer | undefined>;
  /** Needed unless `capabilities.contentHeaders` is unsupported. `ctx.objects.stat` for the local S3. */
  stat?(key: string): Promise<StoredObjectHeaders | undefined>;
  /** Lets the cross-user test prove nothing landed anywhere else. `ctx.objects.list` for the local S3. */
  list?(prefix?: string): Promise<string[]>;
  /**
   * Where network faults are injected and which requests they hit. Default: `ctx.s3.faults`,
   * matching keys under `traces/<userId>/`. A Lambda-based transport may point this at
   * `startLocalLambda(...).faults` (with no `match`).
   */
  readonly faults?: { readonly injector: FaultInjector; readonly match?: FaultMatch | undefined } | undefined;
  /**
   * How many times an object was written at `key` (to prove retries land exactly one object).
   * Default: requests to `ctx.s3` that stored `key`.
   */
  writes?(key: string): number;
  readonly capabilities?: TransportCapabilities | undefined;
  /**
   * Opts into the attribution test: the `x-amz-meta-*` entries (names lowercased, without the
   * prefix) the stored object must carry because the credential was bound to them, usually built
   * from {@link ContractContext.attribution}. Read back through `stat(key).metadata`.
   */
  readonly attribution?: { readonly metadata: Readonly<Record<string, string>> } | undefined;
  /** Called after each test (and for each `setup` call of the parallel test). */
  teardown?(): Promise<void> | void;
}

/**
 * Builds the transport under test for one test. Called once per test, and 20 times in the
 * parallel test: there, every call gets a context of the same user, bucket and local S3 (only the
 * task differs), and the targets must store into the same place, so that the first target's
 * `read` and `list` see what all of them uploaded. Build your store from the context (or once,
 * outside `setup`), not a fresh one per call.
 */
export type ContractSetup = (ctx: ContractContext) => ContractTarget | Promise<ContractTarget>;

/** Options of `describeTransportContract` (every binding) and of {@link transportContract}. */
export interface ContractOptions {
  /**
   * Capabilities declared up front, before any test runs: their tests are skipped with the reason
   * without starting a local S3 or calling `setup`. Required under jest, which cannot skip a test
   * once it runs (there the reason is appended to the test's name); optional elsewhere (a
   * target's own `capabilities` are honoured at run time too).
   */
  readonly capabilities?: TransportCapabilities | undefined;
}

/** What a runner binding hands each case: how to skip, and where to attach a note. */
export interface ContractTestContext {
  /**
   * Ends the running case as skipped, with the reason shown by the runner. Must throw (a runner
   * whose skip returns, like node:test's, throws {@link ContractSkip} after it). Absent for
   * runners that cannot skip a running test (jest): the case then fails, saying what to declare
   * up front in {@link ContractOptions.capabilities}.
   */
  readonly skip?: ((reason: string) => never) | undefined;
  /** Attaches a note (e.g. measured memory) to the test's report. */
  note(message: string): void | Promise<void>;
}

/** One test of the contract, runnable under any runner. */
export interface ContractCase {
  /** The test's name. */
  readonly name: string;
  /** How long the test may take, in ms (the suite's own timeouts; pass them to the runner). */
  readonly timeoutMs: number;
  /**
   * Set when the options' up-front capabilities already rule the case out: register it as
   * skipped with this reason instead of running it.
   */
  readonly skipReason: string | undefined;
  /** Runs the case: resolves on success, throws an assertion error on failure. */
  run(t: ContractTestContext): Promise<void>;
}

/** The contract for one transport, as data: a title and its cases, in order. */
export interface TransportContract {
  /** `<name> transport contract`: the describe block's title. */
  readonly title: string;
  readonly cases: readonly ContractCase[];
}

/** Thrown by a binding's `skip` after telling its runner; the binding's case wrapper swallows it. */
export class ContractSkip extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ContractSkip';
  }
}

/** Declares a capability unsupported, with the reason shown on the skipped tests. */
export function unsupported(reason: string): Unsupported {
  if (typeof reason !== 'string' || reason.trim() === '') {
    throw new TypeError('unsupported(reason): say why, the reason is shown on every skipped test');
  }
  return { unsupported: reason };
}

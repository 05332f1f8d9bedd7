/**
 * Building the per-test {@link ContractContext}: a fresh local S3 with the bucket created, a
 * key-scoped credential for the user, fresh ids and a temp directory, all cleaned up afterwards.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { traceKey, userPrefix } from '@agent-trace/trace-sdk';
import { LOCAL_S3_CREDENTIALS, type LocalS3, startLocalS3 } from '../local-s3/server.js';
import type { LocalS3Credentials } from '../local-s3/sigv4-verify.js';
import { randomTaskId, randomUserId } from './fixtures.js';
import type { ContractContext, ObjectReader } from './types.js';

/** The bucket every contract test writes to. */
export const CONTRACT_BUCKET = 'contract-traces';

/** Reads a bucket of a local S3 as an {@link ObjectReader}. */
export function localS3Reader(s3: LocalS3, bucket: string): ObjectReader {
  return {
    read: async (key) => (await s3.getObject(bucket, key))?.body,
    stat: async (key) => {
      const info = await s3.headObject(bucket, key);
      return info === undefined
        ? undefined
        : {
            size: info.size,
            contentType: info.contentType,
            contentEncoding: info.contentEncoding,
            metadata: info.metadata,
          };
    },
    list: async (prefix) => (await s3.listObjects(bucket, prefix)).map((o) => o.key),
  };
}

/** A fresh world for one test; `derive` makes contexts for more tasks of the same user. */
export interface ContractWorld {
  readonly context: ContractContext;
  derive(): ContractContext;
  dispose(): Promise<void>;
}

/** Starts the local S3 (on disk under a temp dir when `onDisk`) and the ids of one test. */
export async function createWorld(options: { onDisk?: boolean } = {}): Promise<ContractWorld> {
  const tmpDir = await mkdtemp(join(tmpdir(), 'trace-contract-'));
  const userId = randomUserId('contract-user');
  const otherUserId = randomUserId('contract-other');
  const userCredentials: LocalS3Credentials = {
    accessKeyId: `LOCALUSER${randomBytes(6).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(24).toString('base64url'),
    keyPrefixes: [userPrefix(userId)],
  };
  let s3: LocalS3;
  try {
    s3 = await startLocalS3({
      credentials: [{ ...LOCAL_S3_CREDENTIALS }, userCredentials],
      ...(options.onDisk ? { dir: join(tmpDir, 'local-s3') } : {}),
    });
    await s3.createBucket(CONTRACT_BUCKET);
  } catch (error) {
    await rm(tmpDir, { recursive: true, force: true });
    throw error;
  }
  const objects = localS3Reader(s3, CONTRACT_BUCKET);
  // STS SourceIdentity-clean: letters, digits and _+=,.@- only.
  const attribution = {
    operator: `contract-operator-${randomBytes(4).toString('hex')}@example.com`,
    sessionId: `contract-session-${randomBytes(8).toString('hex')}`,
  };
  const contextFor = (taskId: string): ContractContext => ({
    s3,
    bucket: CONTRACT_BUCKET,
    userId,
    taskId,
    key: traceKey({ userId, taskId }),
    otherUserId,
    userCredentials,
    objects,
    tmpDir,
    attribution,
  });
  return {
    context: contextFor(randomTaskId()),
    derive: () => contextFor(randomTaskId()),
    async dispose() {
      await s3.close();
      await rm(tmpDir, { recursive: true, force: true });
    },
  };
}

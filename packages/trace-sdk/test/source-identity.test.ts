/**
 * The CloudTrail binding, offline: STS AssumeRole with SourceIdentity, checked on the wire (the
 * STS Query API) with nock, and minting that fails closed when the binding is missing.
 */

import { STSClient } from '@aws-sdk/client-sts';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  assumeRoleWithSourceIdentity,
  createSourceIdentityS3Client,
  createTraceUploadUrl,
  sourceIdentityOf,
} from '../src/orchestrator/index.js';

const STS = 'http://127.0.0.1:4599';
const ROLE = 'arn:aws:iam::123456789012:role/trace-orchestrator-signer';
const stsConfig = {
  region: 'us-east-1',
  endpoint: STS,
  credentials: { accessKeyId: 'AKIDORCHESTRATOR', secretAccessKey: 'o'.repeat(40) },
  maxAttempts: 1,
};

function assumeRoleXml(sourceIdentity: string | undefined, expiration = '2099-01-01T00:00:00Z'): string {
  return `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    ${sourceIdentity === undefined ? '' : `<SourceIdentity>${sourceIdentity}</SourceIdentity>`}
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/trace-orchestrator-signer/agent-trace-alice</Arn>
      <AssumedRoleId>AROAEXAMPLE:agent-trace-alice</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIASESSIONKEY</AccessKeyId>
      <SecretAccessKey>${'s'.repeat(40)}</SecretAccessKey>
      <SessionToken>session-token-for-alice</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</AssumeRoleResponse>`;
}

/** Intercepts one AssumeRole; records its form-encoded body. */
function interceptAssumeRole(reply: { status: number; body: string }): { body: () => URLSearchParams } {
  let captured = '';
  nock(STS)
    .post('/', (body) => {
      captured =
        typeof body === 'string' ? body : new URLSearchParams(body as Record<string, string>).toString();
      return true;
    })
    .reply(reply.status, reply.body, { 'content-type': 'text/xml' });
  return { body: () => new URLSearchParams(captured) };
}

beforeAll(() => {
  nock.disableNetConnect();
});
afterEach(() => {
  nock.cleanAll();
});
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});

describe('assumeRoleWithSourceIdentity', () => {
  it('calls STS AssumeRole with the operator as SourceIdentity', async () => {
    const call = interceptAssumeRole({ status: 200, body: assumeRoleXml('alice@example.com') });
    const credentials = await assumeRoleWithSourceIdentity({
      roleArn: ROLE,
      operator: 'alice@example.com',
      stsConfig,
    });
    const form = call.body();
    expect(form.get('Action')).toBe('AssumeRole');
    expect(form.get('Version')).toBe('2011-06-15');
    expect(form.get('RoleArn')).toBe(ROLE);
    expect(form.get('SourceIdentity')).toBe('alice@example.com');
    expect(form.get('RoleSessionName')).toBe('agent-trace-alice@example.com');
    expect(form.get('DurationSeconds')).toBe('3600');
    expect(credentials).toMatchObject({
      accessKeyId: 'ASIASESSIONKEY',
      sessionToken: 'session-token-for-alice',
      sourceIdentity: 'alice@example.com',
    });
  });

  it('fails closed when STS does not confirm the SourceIdentity', async () => {
    interceptAssumeRole({ status: 200, body: assumeRoleXml(undefined) });
    await expect(
      assumeRoleWithSourceIdentity({ roleArn: ROLE, operator: 'alice', stsConfig }),
    ).rejects.toMatchObject({ code: 'ERR_ATTRIBUTION', reason: 'source_identity_unbound' });
  });

  it('fails closed when the trust policy does not allow sts:SetSourceIdentity', async () => {
    interceptAssumeRole({
      status: 403,
      body: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform: sts:SetSourceIdentity</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
    });
    await expect(
      assumeRoleWithSourceIdentity({ roleArn: ROLE, operator: 'alice', stsConfig }),
    ).rejects.toMatchObject({ code: 'ERR_ATTRIBUTION', reason: 'source_identity_unbound' });
  });

  it('refuses an operator STS would refuse, before calling STS', async () => {
    const sts = new STSClient(stsConfig);
    await expect(
      assumeRoleWithSourceIdentity({ roleArn: ROLE, operator: 'alice smith', sts }),
    ).rejects.toMatchObject({ code: 'ERR_ATTRIBUTION', reason: 'invalid_operator' });
    expect(nock.pendingMocks()).toEqual([]);
    sts.destroy();
  });
});

describe('createSourceIdentityS3Client', () => {
  it('mints under the assumed session, and only for the operator it carries', async () => {
    interceptAssumeRole({ status: 200, body: assumeRoleXml('alice') });
    const s3 = await createSourceIdentityS3Client({
      roleArn: ROLE,
      operator: 'alice',
      stsConfig,
      s3Config: { region: 'us-east-1' },
    });
    expect(sourceIdentityOf(s3)).toBe('alice');
    const base = { s3, bucket: 'trace-bucket', userId: 'u', taskId: 't', contentLength: 100 };
    const minted = await createTraceUploadUrl({ ...base, operator: 'alice', requireSourceIdentity: true });
    const url = new URL(minted.url);
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^ASIASESSIONKEY\//);
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe('session-token-for-alice');
    expect(minted.headers['x-amz-meta-agent-trace-operator']).toBe('alice');
    await expect(
      createTraceUploadUrl({ ...base, operator: 'bob', requireSourceIdentity: true }),
    ).rejects.toMatchObject({ code: 'ERR_ATTRIBUTION', reason: 'source_identity_unbound' });
    s3.destroy();
  });

  it('mints no URL that outlives the session it was signed with (S3 refuses it once the session expires)', async () => {
    const sessionEnds = new Date(Date.now() + 10 * 60_000);
    interceptAssumeRole({ status: 200, body: assumeRoleXml('alice', sessionEnds.toISOString()) });
    const s3 = await createSourceIdentityS3Client({
      roleArn: ROLE,
      operator: 'alice',
      stsConfig,
      s3Config: { region: 'us-east-1' },
    });
    const minted = await createTraceUploadUrl({
      s3,
      bucket: 'trace-bucket',
      userId: 'u',
      taskId: 't',
      contentLength: 100,
      expiresIn: 3600,
      operator: 'alice',
      requireSourceIdentity: true,
    });
    expect(minted.expiresAt.getTime()).toBeLessThanOrEqual(sessionEnds.getTime());
    expect(Number(new URL(minted.url).searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(600);
    s3.destroy();
  });
});

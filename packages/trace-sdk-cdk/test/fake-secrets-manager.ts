/**
 * An in-memory Secrets Manager for one secret, with the version-stage semantics rotation relies
 * on (AWSCURRENT / AWSPENDING labels, a pending version created before the rotation function
 * runs). Usable as a `SecretsManagerClient` (`send`) and over HTTP on 127.0.0.1 (the JSON 1.1
 * protocol the AWS SDK speaks), so the bundled Lambdas can be pointed at it with
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

interface Version {
  value: string | undefined;
  stages: string[];
}

/** An AWS-shaped error (`name` is what the SDK and our code switch on). */
export class FakeAwsError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export class FakeSecretsManager {
  readonly arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:trace-grant-keys-AbCdEf';
  readonly versions = new Map<string, Version>();
  /** Operation names, in call order. */
  readonly calls: string[] = [];
  /** When set, every call fails with this error. */
  failWith: FakeAwsError | undefined;
  rotationEnabled = true;

  constructor(initialValue: string) {
    this.versions.set('v0', { value: initialValue, stages: ['AWSCURRENT'] });
  }

  /** The value labelled AWSCURRENT. */
  current(): string {
    return [...this.versions.values()].find((v) => v.stages.includes('AWSCURRENT'))!.value!;
  }

  /** Sets a new AWSCURRENT value directly (as an operator's put-secret-value would). */
  setCurrent(value: string, versionId = `v${this.versions.size}`): void {
    this.moveStage('AWSCURRENT', versionId);
    this.versions.set(versionId, { value, stages: ['AWSCURRENT'] });
  }

  /** What Secrets Manager does before calling the rotation function: a pending version, no value yet. */
  beginRotation(token: string): void {
    this.moveStage('AWSPENDING', token);
    this.versions.set(token, { value: undefined, stages: ['AWSPENDING'] });
  }

  private moveStage(stage: string, to: string): void {
    for (const [id, v] of this.versions) {
      if (id !== to) v.stages = v.stages.filter((s) => s !== stage);
    }
  }

  private checkId(id: unknown): void {
    if (id !== this.arn) throw new FakeAwsError('ResourceNotFoundException', 'no such secret');
  }

  /** One operation: `GetSecretValue`, `PutSecretValue`, `DescribeSecret`, `UpdateSecretVersionStage`. */
  handle(operation: string, input: Record<string, unknown>): Record<string, unknown> {
    this.calls.push(operation);
    if (this.failWith) throw this.failWith;
    this.checkId(input.SecretId);
    switch (operation) {
      case 'GetSecretValue': {
        const stage =
          (input.VersionStage as string | undefined) ?? (input.VersionId ? undefined : 'AWSCURRENT');
        const entry = [...this.versions.entries()].find(
          ([id, v]) =>
            (input.VersionId === undefined || id === input.VersionId) &&
            (stage === undefined || v.stages.includes(stage)),
        );
        if (!entry || entry[1].value === undefined) {
          throw new FakeAwsError(
            'ResourceNotFoundException',
            "Secrets Manager can't find the specified secret value",
          );
        }
        return {
          ARN: this.arn,
          SecretString: entry[1].value,
          VersionId: entry[0],
          VersionStages: entry[1].stages,
        };
      }
      case 'PutSecretValue': {
        const token = input.ClientRequestToken as string;
        const stages = (input.VersionStages as string[] | undefined) ?? ['AWSCURRENT'];
        for (const s of stages) this.moveStage(s, token);
        this.versions.set(token, { value: input.SecretString as string, stages });
        return { ARN: this.arn, VersionId: token, VersionStages: stages };
      }
      case 'DescribeSecret':
        return {
          ARN: this.arn,
          RotationEnabled: this.rotationEnabled,
          VersionIdsToStages: Object.fromEntries([...this.versions].map(([id, v]) => [id, [...v.stages]])),
        };
      case 'UpdateSecretVersionStage': {
        const stage = input.VersionStage as string;
        const to = input.MoveToVersionId as string;
        const from = input.RemoveFromVersionId as string | undefined;
        if (from !== undefined && !this.versions.get(from)?.stages.includes(stage)) {
          throw new FakeAwsError('InvalidParameterException', `${from} does not hold ${stage}`);
        }
        this.moveStage(stage, to);
        const target = this.versions.get(to)!;
        if (!target.stages.includes(stage)) target.stages.push(stage);
        return { ARN: this.arn };
      }
      default:
        throw new FakeAwsError('InvalidRequestException', `unsupported operation ${operation}`);
    }
  }

  /** This fake as a `SecretsManagerClient` (commands are dispatched on their class name). */
  asClient(): SecretsManagerClient {
    return {
      send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) =>
        this.handle(command.constructor.name.replace(/Command$/, ''), command.input),
    } as unknown as SecretsManagerClient;
  }

  /** Serves the JSON 1.1 protocol on 127.0.0.1; resolves with the endpoint and a close function. */
  async listen(): Promise<{ endpoint: string; close: () => Promise<void> }> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const operation = String(req.headers['x-amz-target'] ?? '').replace(/^secretsmanager\./, '');
        res.setHeader('content-type', 'application/x-amz-json-1.1');
        try {
          const out = this.handle(operation, JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
          res.end(JSON.stringify(out));
        } catch (err) {
          res.statusCode = 400;
          res.end(JSON.stringify({ __type: (err as Error).name, message: (err as Error).message }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      endpoint: `http://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }
}

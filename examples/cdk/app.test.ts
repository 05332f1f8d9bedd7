/**
 * The example CDK app synthesizes (no AWS account needed), passes cdk-nag's AwsSolutions checks,
 * and gives the agent runtime exactly what its transport needs: one invoke, or nothing.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type CfnResource, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { type AgentTraceStack, buildApp } from './stack.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The synthesized templates, by stack (filled by the synth test). */
/** Every statement of the identity policies attached to the stack's runtime role. */
function runtimePolicy(stack: AgentTraceStack): unknown[] {
  const template = Template.fromJSON(templates.get(stack)!);
  const runtime = stack.resolve((stack.runtimeRole.node.defaultChild as CfnResource).logicalId);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === runtime))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

const templates = new Map<AgentTraceStack, object>();

describe('examples/cdk', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'agent-trace-cdk-example-'));
  // CDK's built-in CloudFormation schema validation costs seconds of CPU; the package's own tests
  // run it over these constructs.
  const { app, lambda, presigned } = buildApp(new App({ outdir, builtinCloudFormationValidation: false }));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

  it('synthesizes with no unacknowledged cdk-nag finding (the synth throws on one)', () => {
    const assembly = app.synth();
    for (const stack of [lambda, presigned]) {
      templates.set(stack, assembly.getStackByName(stack.stackName).template as object);
    }
    expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual([
      'AgentTraceLambda',
      'AgentTracePresigned',
    ]);
  });

  it('lambda transport: the runtime may invoke the uploader and nothing else', () => {
    const fn = lambda.resolve((lambda.uploader!.function.node.defaultChild as CfnResource).logicalId);
    expect(runtimePolicy(lambda)).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [fn, 'Arn'] } },
    ]);
  });

  it('presigned transport: the runtime holds no policy', () => {
    expect(runtimePolicy(presigned)).toEqual([]);
  });

  const built = existsSync(join(repoRoot, 'packages/trace-sdk-cdk/dist/index.js'));
  it.skipIf(!built)(
    '`node examples/cdk/app.ts` synthesizes into $CDK_OUTDIR (needs `pnpm build`)',
    async () => {
      const cdkOut = mkdtempSync(join(tmpdir(), 'agent-trace-cdk-out-'));
      const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
        execFile(
          process.execPath,
          ['examples/cdk/app.ts'],
          {
            cwd: repoRoot,
            timeout: 60_000,
            env: { ...process.env, CDK_OUTDIR: cdkOut, CDK_VALIDATION: 'false' },
          },
          (err, out, stderr) =>
            err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout: out }),
        );
      });
      expect(stdout).toMatch(/synthesized AgentTraceLambda: \d+ resources, cdk-nag AwsSolutions clean/);
      expect(stdout).toMatch(/synthesized AgentTracePresigned: \d+ resources, cdk-nag AwsSolutions clean/);
      expect(readdirSync(cdkOut)).toEqual(
        expect.arrayContaining(['AgentTraceLambda.template.json', 'AgentTracePresigned.template.json']),
      );
    },
  );
});

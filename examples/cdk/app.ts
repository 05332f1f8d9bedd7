/**
 * The example CDK app's entry: synthesizes both stacks into `cdk.out/` (or `$CDK_OUTDIR`) with
 * cdk-nag's AwsSolutions checks, which fail the synth on any unacknowledged finding. No AWS
 * account is needed to synthesize.
 *
 * Run: `pnpm build && node examples/cdk/app.ts`, or `npx cdk synth --app "node examples/cdk/app.ts"`.
 */
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from './stack.ts';

const { app } = buildApp();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
const assembly = app.synth();
for (const stack of assembly.stacks) {
  const resources = Object.keys((stack.template as { Resources: object }).Resources).length;
  console.log(`synthesized ${stack.stackName}: ${resources} resources, cdk-nag AwsSolutions clean`);
}
console.log(`cloud assembly: ${assembly.directory}`);

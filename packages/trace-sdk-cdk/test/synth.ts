/**
 * Test helpers: synthesize a stack in-process with cdk-nag's AwsSolutions pack attached, and
 * return its template and every unacknowledged finding (cdk-nag 3 reports through CDK's policy
 * validation, which fails the synth and writes `validation-report.json` to the assembly). CDK's
 * built-in CloudFormation schema validation stays on: its errors are findings too.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';

/** One unacknowledged cdk-nag finding. */
export interface NagFinding {
  /** Rule and finding, e.g. `AwsSolutions-IAM5[Resource::<X.Arn>/traces/*]`. */
  readonly rule: string;
  /** Construct path of the offending resource. */
  readonly path: string;
}

/** A synthesized stack. */
export interface Synthesized {
  readonly stack: Stack;
  readonly template: Template;
  /** Unacknowledged AwsSolutions findings; [] when the synth validated. */
  readonly findings: NagFinding[];
}

interface ValidationReport {
  pluginReports: {
    pluginName: string;
    violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[];
  }[];
}

/** Builds a stack with `define`, synthesizes it with AwsSolutions checks, and reports. */
export function synthesize(define: (stack: Stack) => void, stackName = 'TraceStack'): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'trace-cdk-'));
  const app = new App({ outdir });
  const stack = new Stack(app, stackName, { env: { account: '123456789012', region: 'eu-west-1' } });
  define(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let findings: NagFinding[] = [];
  try {
    app.synth();
  } catch (err) {
    const reportFile = join(outdir, 'validation-report.json');
    if (!existsSync(reportFile)) throw err;
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as ValidationReport;
    findings = report.pluginReports.flatMap((p) =>
      p.violations.flatMap((v) =>
        v.violatingConstructs.map((c) => ({ rule: v.ruleName, path: c.constructPath })),
      ),
    );
    if (findings.length === 0) throw err;
  }
  const template = Template.fromJSON(JSON.parse(readFileSync(join(outdir, stack.templateFile), 'utf8')));
  return { stack, template, findings };
}

/** One acknowledged (suppressed) finding, where it was acknowledged and why. */
export interface Acknowledged {
  readonly path: string;
  readonly rule: string;
  readonly reason: unknown;
}

/** Every acknowledgment recorded under `scope`. */
export function acknowledgments(scope: Stack): Acknowledged[] {
  return scope.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, unknown>).map(([rule, reason]) => ({
          path: c.node.path,
          rule,
          reason,
        })),
      ),
  );
}

/**
 * cdk-nag acknowledgments, kept in one place so each carries its reason and its exact finding id.
 * No rule is acknowledged wholesale: an IAM5 acknowledgment names the one resource it excuses.
 *
 * @packageDocumentation
 */
import { type CfnResource, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** The pack's prefix on acknowledgment ids (cdk-nag 3 runs as a CDK validation plugin). */
const PACK = 'AwsSolutions::';

/**
 * Acknowledges one AwsSolutions finding on `scope` (and its children).
 *
 * @param rule The rule and finding, e.g. `AwsSolutions-S1` or `AwsSolutions-IAM5[Resource::*]`.
 * @param reason Why the finding is acceptable here; shown in the validation report.
 */
export function acknowledge(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `${PACK}${rule}`, reason });
}

/**
 * How cdk-nag spells an attribute of `resource` in a finding id (`<LogicalId.Arn>`), as seen from
 * a construct in the same stack. `undefined` across stacks, where the reference is an import.
 */
export function nagRef(from: IConstruct, resource: CfnResource, attribute = 'Arn'): string | undefined {
  const stack = Stack.of(resource);
  if (Stack.of(from) !== stack) return undefined;
  return `<${stack.resolve(resource.logicalId)}.${attribute}>`;
}

/**
 * Reading IAM out of a synthesized template: which role holds which statements, and IAM's own
 * wildcard matching of actions, so tests can ask "who may s3:PutObject?" as IAM would answer.
 */
import type { Template } from 'aws-cdk-lib/assertions';

/** A statement as synthesized (resources may be CloudFormation intrinsics). */
export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** An identity-policy statement and the role it is attached to (its logical id). */
export interface RoleStatement {
  readonly role: string;
  readonly statement: Statement;
}

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}

export const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function resources(template: Template): Record<string, Resource> {
  return (template.toJSON() as { Resources: Record<string, Resource> }).Resources;
}

/** Logical id of the one role whose id starts with `prefix` (CDK appends a hash). */
export function roleId(template: Template, prefix: string): string {
  const ids = Object.entries(resources(template))
    .filter(([id, r]) => r.Type === 'AWS::IAM::Role' && id.startsWith(prefix))
    .map(([id]) => id);
  if (ids.length !== 1) throw new Error(`expected one role ${prefix}*, found ${ids.join(', ') || 'none'}`);
  return ids[0]!;
}

/** Logical id of the one resource of `type` whose id starts with `prefix`. */
export function logicalId(template: Template, type: string, prefix: string): string {
  const found = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  if (found.length !== 1)
    throw new Error(`expected one ${type} ${prefix}*, found ${found.join(', ') || 'none'}`);
  return found[0]!;
}

/** Every identity-policy statement in the template, with the role it applies to. */
export function roleStatements(template: Template): RoleStatement[] {
  const out: RoleStatement[] = [];
  for (const [id, r] of Object.entries(resources(template))) {
    const props = r.Properties ?? {};
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
      const doc = props.PolicyDocument as { Statement: Statement[] };
      for (const ref of list(props.Roles as { Ref: string }[] | undefined)) {
        for (const statement of doc.Statement) out.push({ role: ref.Ref, statement });
      }
    }
    if (r.Type === 'AWS::IAM::Role') {
      for (const inline of list(props.Policies as { PolicyDocument: { Statement: Statement[] } }[])) {
        for (const statement of inline.PolicyDocument.Statement) out.push({ role: id, statement });
      }
    }
  }
  return out;
}

/** The managed policies attached to a role (none of ours should have any). */
export function managedPolicies(template: Template, role: string): unknown[] {
  return list(resources(template)[role]?.Properties?.ManagedPolicyArns as unknown[] | undefined);
}

/** The statements of one role, without Sids (for exact comparisons). */
export function policyOf(template: Template, role: string): Statement[] {
  return roleStatements(template)
    .filter((s) => s.role === role)
    .map((s) => s.statement);
}

/** Whether the IAM action pattern `pattern` (with `*` and `?`) covers `action`, case-insensitively. */
export function actionCovers(pattern: string, action: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
    'i',
  );
  return re.test(action);
}

/** Whether an Allow statement grants `action` (through Action, or through an Allow+NotAction). */
export function allows(statement: Statement, action: string): boolean {
  if (statement.Effect !== 'Allow') return false;
  if (statement.NotAction !== undefined)
    return !list(statement.NotAction).some((p) => actionCovers(p, action));
  return list(statement.Action).some((p) => actionCovers(p, action));
}

/** Bucket-policy statements of the bucket whose logical id starts with `bucketPrefix`. */
export function bucketPolicy(template: Template, bucketPrefix: string): Statement[] {
  return Object.values(resources(template))
    .filter(
      (r) =>
        r.Type === 'AWS::S3::BucketPolicy' &&
        (r.Properties?.Bucket as { Ref?: string })?.Ref?.startsWith(bucketPrefix),
    )
    .flatMap((r) => (r.Properties!.PolicyDocument as { Statement: Statement[] }).Statement);
}

/** `Fn::GetAtt: [id, 'Arn']`. */
export const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

/** `<bucket ARN>/traces/*` as CloudFormation spells it. */
export const tracesObjects = (bucketId: string) => ({
  'Fn::Join': ['', [arnOf(bucketId), '/traces/*']],
});

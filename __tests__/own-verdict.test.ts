/**
 * "Any box can stop any other box": every box publishes its idle verdict into a namespace of its own,
 * `TrainiumSpot/Idle/<its instance ARN>`; the box role may publish into that namespace only, and the
 * backstop watches each box there. CloudWatch has no condition key on dimensions, so the namespace is what
 * keeps one box from publishing another's verdict.
 */
import { IDLE_METRIC, instanceArnPrefix, verdictNamespace } from '../src/catalog';
import { blocksOf, onlyBlock, synthesizeJson, TerraformJson } from './support/synth';

const BOX_A = 'arn:aws:ec2:us-east-2:123456789012:instance/i-0123456789abcdef0';
const BOX_B = 'arn:aws:ec2:us-east-2:123456789012:instance/i-0fedcba9876543210';

// ---------------------------------------------------------------------------------------------
// IAM, evaluated offline: as much of AWS's policy evaluation as the one statement needs
// ---------------------------------------------------------------------------------------------

interface Statement {
  readonly effect?: string;
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly condition?: readonly { test: string; variable: string; values: readonly string[] }[];
}

/** A PutMetricData call as IAM sees it: the namespace asked for, and the request context. */
interface Request {
  readonly namespace: string;
  /** `ec2:SourceInstanceARN`: present only when an instance profile's credentials sign the call. */
  readonly sourceInstanceArn?: string;
}

/**
 * Terraform reads `$${` back as `${` (src/terraform-literal.ts), so the policy IAM gets holds the policy
 * variable. IAM replaces a variable with the request's value of that key; when the request has no value,
 * "any attempt to match it fails" (IAM User Guide, "IAM policy elements: Variables and tags", principal key
 * values, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html, checked 2026-12-07).
 */
function resolved(value: string, request: Request): string | undefined {
  const text = value.replace(/\$\$\{/g, '${');
  if (!text.includes('${ec2:SourceInstanceARN}')) return text;
  return request.sourceInstanceArn === undefined ? undefined : text.split('${ec2:SourceInstanceARN}').join(request.sourceInstanceArn);
}

/** Whether the statement allows cloudwatch:PutMetricData for this request (StringEquals is case-sensitive). */
function allows(statement: Statement, request: Request): boolean {
  if ((statement.effect ?? 'Allow') !== 'Allow' || !statement.actions.includes('cloudwatch:PutMetricData')) return false;
  if (!statement.resources.includes('*')) return false;
  return (statement.condition ?? []).every((condition) => {
    if (condition.test !== 'StringEquals' || condition.variable !== 'cloudwatch:namespace') {
      throw new Error(`this evaluator knows no ${condition.test} on ${condition.variable}`);
    }
    return condition.values.some((value) => resolved(value, request) === request.namespace);
  });
}

/** Every statement of the stack's policy documents that names cloudwatch:PutMetricData or a wildcard over it. */
function publishStatements(json: TerraformJson): Statement[] {
  return Object.values(json.data.aws_iam_policy_document).flatMap((d) => d.statement as Statement[])
    .filter((s) => s.actions.some((a) => a === 'cloudwatch:PutMetricData' || a === '*' || a.startsWith('cloudwatch:*') || a === 'cloudwatch:Put*'));
}

describe('a box can publish only its own verdict', () => {
  const json = synthesizeJson({});
  const statements = publishStatements(json);

  test('the role has one statement that allows PutMetricData, and no wildcard over it', () => {
    expect(statements).toHaveLength(1);
    expect(statements[0].actions).toEqual(['cloudwatch:PutMetricData']);
  });

  test('GIVEN box A\'s credentials WHEN it publishes into its own namespace THEN the policy allows it', () => {
    expect(allows(statements[0], { namespace: verdictNamespace(BOX_A), sourceInstanceArn: BOX_A })).toBe(true);
  });

  test('fails when box A may publish into box B\'s namespace (the attack: StopVerdict=1 twice stops B, 0 silences its backstop)', () => {
    expect(allows(statements[0], { namespace: verdictNamespace(BOX_B), sourceInstanceArn: BOX_A })).toBe(false);
  });

  test('fails when a box may still publish into the shared namespace of earlier versions, or into any other', () => {
    for (const namespace of [IDLE_METRIC.namespaceRoot, `${IDLE_METRIC.namespaceRoot}/`, `${IDLE_METRIC.namespaceRoot}/*`, 'CWAgent', verdictNamespace(BOX_A).toUpperCase()]) {
      expect({ namespace, allowed: allows(statements[0], { namespace, sourceInstanceArn: BOX_A }) }).toEqual({ namespace, allowed: false });
    }
  });

  test('fails when the role\'s credentials may publish a verdict from outside an instance (no ec2:SourceInstanceARN)', () => {
    expect(allows(statements[0], { namespace: verdictNamespace(BOX_A) })).toBe(false);
  });
});

describe('the box, its role and its alarms name the same namespace', () => {
  const json = synthesizeJson({});
  const partition = '${data.aws_partition.partition.partition}';
  const account = `\${data.aws_caller_identity.${Object.keys(json.data.aws_caller_identity)[0]}.account_id}`;

  test('one account for the whole stack: the stop rule, the alarms and the agent read the same aws_caller_identity', () => {
    expect(Object.keys(json.data.aws_caller_identity)).toHaveLength(1);
  });

  test('the association passes the box the ARN of its instances up to the id, from the partition and account the alarms use', () => {
    const association = onlyBlock(json.resource, 'aws_ssm_association');
    expect(association.parameters.instanceArnPrefix).toBe(instanceArnPrefix(partition, 'us-east-2', account));
    expect(association.parameters.instanceArnPrefix).toBe(`arn:${partition}:ec2:us-east-2:${account}:instance/`);
  });

  test('the verdict and silent alarms watch each box\'s namespace: the prefix the box gets, followed by its instance id', () => {
    const instanceId = '${try(local.instance-ids[count.index], "")}';
    const verdictAlarms = blocksOf(json, 'aws_cloudwatch_metric_alarm').filter((a) => a.metric_name === IDLE_METRIC.name);
    expect(verdictAlarms.map((a) => a.alarm_name).sort()).toEqual(['trainium-spot-${count.index}-silent', 'trainium-spot-${count.index}-verdict']);
    for (const alarm of verdictAlarms) {
      expect(alarm.namespace).toBe(verdictNamespace(`${instanceArnPrefix(partition, 'us-east-2', account)}${instanceId}`));
      expect(alarm.dimensions).toEqual({ [IDLE_METRIC.dimension]: instanceId });
    }
  });
});

describe('the namespace of a box', () => {
  test('is a CloudWatch namespace for the longest ARN a supported region gives: at most 255 ASCII characters, none a control, not starting with ":"', () => {
    // GIVEN the longest partition and region the config admits, and a 17-digit instance id
    const namespace = verdictNamespace(`${instanceArnPrefix('aws-us-gov', 'us-gov-west-1', '123456789012')}i-0123456789abcdef0`);
    // THEN PutMetricData's rules (API_PutMetricData.html, API_Metric.html: 1-255 characters, pattern [^:].*, ASCII
    // without control characters) and the User Guide's characters (alphanumerics, . - _ / # : and space)
    expect(namespace).toBe('TrainiumSpot/Idle/arn:aws-us-gov:ec2:us-gov-west-1:123456789012:instance/i-0123456789abcdef0');
    expect(namespace.length).toBeLessThanOrEqual(255);
    expect(namespace).toMatch(/^[^:]/);
    expect(namespace).toMatch(/^[0-9A-Za-z._\-/#: ]+$/);
  });

  test('of the example ARN is TrainiumSpot/Idle/ and the ARN, as the policy variable reads it', () => {
    expect(verdictNamespace(BOX_A)).toBe(`TrainiumSpot/Idle/${BOX_A}`);
    expect(verdictNamespace('${ec2:SourceInstanceARN}')).toBe('TrainiumSpot/Idle/${ec2:SourceInstanceARN}');
  });
});

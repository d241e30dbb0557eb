import { Construct } from 'constructs';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { IAM_ROLE_NAME_PREFIX_MAX } from '../catalog';

export interface IdleStopRuleProps {
  readonly name: string;
  readonly region: string;
  /** The AWS partition, e.g. `aws` (a plan-time value from `aws_partition`). */
  readonly partition: string;
  /** The account the stack deploys into, where EventBridge starts the runbook (a plan-time value from `aws_caller_identity`). */
  readonly account: string;
  /** One rule per box. */
  readonly instanceCount: number;
  /** Reference (no `${}`) to the list of the boxes' instance ids. */
  readonly instanceIdsRef: string;
  /** Reference (no `${}`) to the list of the boxes' dead-check composite alarm ARNs, in the same order. */
  readonly alarmArnsRef: string;
  /** Tags every box of this stack carries; the role may stop instances with these tags only. */
  readonly instanceTags: Readonly<Record<string, string>>;
}

/** The AWS-owned runbook that stops instances and waits until they are stopped. */
const STOP_RUNBOOK = 'AWS-StopEC2Instance';

/**
 * Turns a dead-check composite alarm going into ALARM into a stop of its box: composite alarms cannot
 * stop instances themselves, EventBridge receives every alarm state change ("CloudWatch Alarm State
 * Change", source aws.cloudwatch) and can start the AWS-StopEC2Instance Automation runbook. The runbook
 * runs with this rule's role, which may stop only instances tagged as this stack's boxes.
 */
export class IdleStopRule extends Construct {
  constructor(scope: Construct, id: string, props: IdleStopRuleProps) {
    super(scope, id);

    const assumeRole = new DataAwsIamPolicyDocument(this, 'assume-role', {
      statement: [{
        actions: ['sts:AssumeRole'],
        principals: [{ type: 'Service', identifiers: ['events.amazonaws.com'] }],
      }],
    });
    const role = new IamRole(this, 'role', {
      // A long config name (up to 30) is cut to the provider's longest prefix, never refused.
      namePrefix: `${props.name}-idle-stop-`.slice(0, IAM_ROLE_NAME_PREFIX_MAX),
      description: `${props.name}: EventBridge stops a box whose idle check went silent while its CPU stayed low`,
      assumeRolePolicy: assumeRole.json,
    });
    // EventBridge starts an Automation runbook from a target ARN with the region and the account ID:
    // arn:aws:ssm:us-east-1:123456789012:automation-definition/AWS-StartEC2Instance in AWS's own example
    // (https://docs.aws.amazon.com/systems-manager/latest/userguide/running-automations-event-bridge.html,
    // checked 2026-12-07). A target without the account is accepted, and its rule fires, but no automation
    // starts (https://github.com/aws/aws-cli/issues/6994). The account is the one this stack deploys into.
    const runbook = `arn:${props.partition}:ssm:${props.region}:${props.account}:automation-definition/${STOP_RUNBOOK}`;
    // IAM may see an AWS-owned runbook without an account: a role starting one was refused on
    // arn:aws:ssm:<region>::automation-definition/<name>:$DEFAULT
    // (https://github.com/aws-solutions/automated-security-response-on-aws/issues/29, checked 2026-12-07).
    // Both names are this one runbook; `:*` covers its versions (the resource type's ARN ends in
    // :${VersionId}: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html).
    const awsOwnedRunbook = `arn:${props.partition}:ssm:${props.region}::automation-definition/${STOP_RUNBOOK}`;
    const permissions = new DataAwsIamPolicyDocument(this, 'permissions', {
      statement: [
        {
          sid: 'StartTheStopRunbook',
          actions: ['ssm:StartAutomationExecution'],
          resources: [runbook, `${runbook}:*`, awsOwnedRunbook, `${awsOwnedRunbook}:*`],
        },
        {
          sid: 'StopThisStacksBoxesOnly',
          actions: ['ec2:StopInstances'],
          resources: [`arn:${props.partition}:ec2:${props.region}:*:instance/*`],
          condition: Object.entries(props.instanceTags).map(([key, value]) => ({
            test: 'StringEquals', variable: `aws:ResourceTag/${key}`, values: [value],
          })),
        },
        {
          // The runbook waits for the stop; describe calls cannot be limited to resources.
          sid: 'WatchTheStop',
          actions: ['ec2:DescribeInstances', 'ec2:DescribeInstanceStatus'],
          resources: ['*'],
        },
      ],
    });
    new IamRolePolicy(this, 'role-policy', { namePrefix: 'idle-stop-', role: role.id, policy: permissions.json });

    const rule = new CloudwatchEventRule(this, 'rule', {
      count: props.instanceCount,
      namePrefix: `${props.name}-\${count.index}-idle-stop-`,
      description: `Stops ${props.name} box \${count.index} when its dead-check alarm goes into ALARM`,
      eventPattern: `\${jsonencode({ source = ["aws.cloudwatch"], "detail-type" = ["CloudWatch Alarm State Change"], ` +
        `resources = [(${props.alarmArnsRef})[count.index]], detail = { state = { value = ["ALARM"] } } })}`,
    });
    new CloudwatchEventTarget(this, 'target', {
      count: props.instanceCount,
      rule: `\${${rule.fqn}[count.index].name}`,
      arn: runbook,
      roleArn: role.arn,
      input: `\${jsonencode({ InstanceId = [try(${props.instanceIdsRef}[count.index], "")] })}`,
    });
  }
}

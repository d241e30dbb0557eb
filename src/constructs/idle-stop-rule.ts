import { Construct } from 'constructs';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';

export interface IdleStopRuleProps {
  readonly name: string;
  readonly region: string;
  /** The AWS partition, e.g. `aws` (a plan-time value from `aws_partition`). */
  readonly partition: string;
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
      namePrefix: `${props.name}-idle-stop-`,
      description: `${props.name}: EventBridge stops a box whose idle check went silent while its CPU stayed low`,
      assumeRolePolicy: assumeRole.json,
    });
    // The target names the AWS-owned runbook without an account; IAM may see it with the caller's.
    const runbook = `arn:${props.partition}:ssm:${props.region}::automation-definition/${STOP_RUNBOOK}`;
    const runbookInAnyAccount = `arn:${props.partition}:ssm:${props.region}:*:automation-definition/${STOP_RUNBOOK}`;
    const permissions = new DataAwsIamPolicyDocument(this, 'permissions', {
      statement: [
        {
          sid: 'StartTheStopRunbook',
          actions: ['ssm:StartAutomationExecution'],
          resources: [runbookInAnyAccount, `${runbookInAnyAccount}:*`],
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
      arn: `${runbook}:$DEFAULT`,
      roleArn: role.arn,
      input: `\${jsonencode({ InstanceId = [try(${props.instanceIdsRef}[count.index], "")] })}`,
    });
  }
}

import { Testing } from 'cdktf';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { IdleStopRule, IdleStopRuleProps } from '../../src/constructs/idle-stop-rule';

const props: IdleStopRuleProps = {
  name: 'box', region: 'us-east-2', partition: 'aws', account: '${data.aws_caller_identity.caller.account_id}',
  instanceCount: 2, instanceIdsRef: 'local.instance_ids',
  alarmArnsRef: 'aws_cloudwatch_composite_alarm.dead[*].arn', instanceTags: { Project: 'box', ManagedBy: 'trainium-spot' },
};

describe('IdleStopRule', () => {
  const synthesized = Testing.synthScope((scope) => { new IdleStopRule(scope, 'rule', props); });
  const json = JSON.parse(synthesized);
  const permissions = Object.values(json.data.aws_iam_policy_document).find((d: any) => d.statement.length === 3) as any;

  test('GIVEN a dead-check alarm goes into ALARM THEN its rule matches that state change of that alarm only', () => {
    expect(synthesized).toHaveResourceWithProperties(CloudwatchEventRule, {
      count: 2,
      event_pattern: '${jsonencode({ source = ["aws.cloudwatch"], "detail-type" = ["CloudWatch Alarm State Change"], ' +
        'resources = [(aws_cloudwatch_composite_alarm.dead[*].arn)[count.index]], detail = { state = { value = ["ALARM"] } } })}',
    });
  });

  test('THEN the target starts AWS-StopEC2Instance for the same box, under the rule role', () => {
    const target = Object.values(json.resource.aws_cloudwatch_event_target)[0] as any;
    expect(synthesized).toHaveResourceWithProperties(CloudwatchEventTarget, {
      count: 2,
      input: '${jsonencode({ InstanceId = [try(local.instance_ids[count.index], "")] })}',
    });
    expect(target.role_arn).toMatch(/^\$\{aws_iam_role\..+\.arn\}$/);
  });

  test('fails when the target names the runbook without this account: it must carry the caller\'s account ID', () => {
    // GIVEN the account EventBridge runs in, which the stack reads from aws_caller_identity
    const account = props.account;
    // THEN the target is the form AWS documents for an Automation target: region, account, runbook name
    const target = Object.values(json.resource.aws_cloudwatch_event_target)[0] as any;
    expect(target.arn).toBe(`arn:aws:ssm:us-east-2:${account}:automation-definition/AWS-StopEC2Instance`);
  });

  test('the role may start only the stop runbook: the one the target names, and the AWS-owned name IAM may see', () => {
    const account = props.account;
    const start = permissions.statement.find((s: any) => s.actions.includes('ssm:StartAutomationExecution'));
    expect(start.resources).toEqual([
      `arn:aws:ssm:us-east-2:${account}:automation-definition/AWS-StopEC2Instance`,
      `arn:aws:ssm:us-east-2:${account}:automation-definition/AWS-StopEC2Instance:*`,
      'arn:aws:ssm:us-east-2::automation-definition/AWS-StopEC2Instance',
      'arn:aws:ssm:us-east-2::automation-definition/AWS-StopEC2Instance:*',
    ]);
    // THEN the statement covers what the target starts
    const target = Object.values(json.resource.aws_cloudwatch_event_target)[0] as any;
    expect(start.resources).toContain(target.arn);
  });

  test('the role may stop only instances carrying this stack\'s tags', () => {
    const stop = permissions.statement.find((s: any) => s.actions.includes('ec2:StopInstances'));
    expect(stop.resources).toEqual(['arn:aws:ec2:us-east-2:*:instance/*']);
    expect(stop.condition).toEqual([
      { test: 'StringEquals', variable: 'aws:ResourceTag/Project', values: ['box'] },
      { test: 'StringEquals', variable: 'aws:ResourceTag/ManagedBy', values: ['trainium-spot'] },
    ]);
    expect(permissions.statement.flatMap((s: any) => s.actions).sort()).toEqual([
      'ec2:DescribeInstanceStatus', 'ec2:DescribeInstances', 'ec2:StopInstances', 'ssm:StartAutomationExecution',
    ]);
  });

  test('only EventBridge assumes the role', () => {
    const assume = Object.values(json.data.aws_iam_policy_document).find((d: any) => d.statement[0].actions[0] === 'sts:AssumeRole') as any;
    expect(assume.statement[0].principals).toEqual([{ type: 'Service', identifiers: ['events.amazonaws.com'] }]);
  });
});

import { Testing } from 'cdktf';
import { CloudwatchCompositeAlarm } from '@cdktf/provider-aws/lib/cloudwatch-composite-alarm';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { IdleAlarm, IdleAlarmProps } from '../../src/constructs/idle-alarm';

const props: IdleAlarmProps = {
  name: 'box', region: 'us-east-2', partition: 'aws', instanceCount: 2, instanceIdsRef: 'local.instance_ids',
  verdictNamespacePrefix: 'TrainiumSpot/Idle/arn:aws:ec2:us-east-2:${data.aws_caller_identity.caller.account_id}:instance/',
  verdictMetricName: 'StopVerdict',
  silentMinutes: 10, lowCpuMinutes: 25, lowCpuThresholdPercent: 6.25,
};

/** Box n's own verdict namespace: the prefix and its instance id (a box may publish into no other). */
const OWN_NAMESPACE = 'TrainiumSpot/Idle/arn:aws:ec2:us-east-2:${data.aws_caller_identity.caller.account_id}:instance/' +
  '${try(local.instance_ids[count.index], "")}';

describe('IdleAlarm', () => {
  const synthesized = Testing.synthScope((scope) => { new IdleAlarm(scope, 'alarm', props); });
  const alarms = Object.values(JSON.parse(synthesized).resource.aws_cloudwatch_metric_alarm) as any[];
  const named = (suffix: string) => alarms.find((a) => a.alarm_name.endsWith(`-${suffix}`));

  test('GIVEN the box said stop in two checks in a row THEN the verdict alarm stops it with the EC2 stop action', () => {
    expect(synthesized).toHaveResourceWithProperties(CloudwatchMetricAlarm, {
      count: 2,
      alarm_name: 'box-${count.index}-verdict',
      namespace: OWN_NAMESPACE,
      metric_name: 'StopVerdict',
      dimensions: { InstanceId: '${try(local.instance_ids[count.index], "")}' },
      statistic: 'Maximum',
      comparison_operator: 'GreaterThanOrEqualToThreshold',
      threshold: 1,
      period: 60,
      evaluation_periods: 2,
      datapoints_to_alarm: 2,
      treat_missing_data: 'notBreaching',
      actions_enabled: true,
      alarm_actions: ['arn:aws:automate:us-east-2:ec2:stop'],
    });
  });

  test('only the verdict alarm has an action: silence and low CPU alone never stop a box', () => {
    expect(alarms.filter((a) => a.alarm_actions).map((a) => a.alarm_name)).toEqual(['box-${count.index}-verdict']);
  });

  test('silent: no verdict for silentMinutes, missing data breaching', () => {
    expect(named('silent')).toMatchObject({
      namespace: OWN_NAMESPACE, metric_name: 'StopVerdict', statistic: 'SampleCount',
      comparison_operator: 'LessThanThreshold', threshold: 1, evaluation_periods: 10, datapoints_to_alarm: 10,
      treat_missing_data: 'breaching',
    });
  });

  test('low CPU: average CPUUtilization under the threshold for lowCpuMinutes; a stopped box (no data) is not low', () => {
    expect(named('low-cpu')).toMatchObject({
      namespace: 'AWS/EC2', metric_name: 'CPUUtilization', statistic: 'Average',
      comparison_operator: 'LessThanThreshold', threshold: 6.25, evaluation_periods: 25, datapoints_to_alarm: 25,
      treat_missing_data: 'notBreaching',
    });
  });

  test('stopped: no status checks for a minute, missing data breaching', () => {
    expect(named('stopped')).toMatchObject({
      namespace: 'AWS/EC2', metric_name: 'StatusCheckFailed', statistic: 'SampleCount',
      comparison_operator: 'LessThanThreshold', threshold: 1, evaluation_periods: 1, treat_missing_data: 'breaching',
    });
  });

  test('the dead-check composite: silent AND low CPU AND NOT stopped, over this box\'s alarms', () => {
    const json = JSON.parse(synthesized);
    const [silent, lowCpu, stopped] = ['silent', 'low-cpu', 'stopped'].map((key) =>
      Object.keys(json.resource.aws_cloudwatch_metric_alarm).find((id) => json.resource.aws_cloudwatch_metric_alarm[id].alarm_name.endsWith(`-${key}`)));
    expect(synthesized).toHaveResourceWithProperties(CloudwatchCompositeAlarm, {
      count: 2,
      alarm_name: 'box-${count.index}-dead-check',
      alarm_rule: `ALARM("\${aws_cloudwatch_metric_alarm.${silent}[count.index].arn}") AND ` +
        `ALARM("\${aws_cloudwatch_metric_alarm.${lowCpu}[count.index].arn}") AND ` +
        `NOT ALARM("\${aws_cloudwatch_metric_alarm.${stopped}[count.index].arn}")`,
    });
  });

  test('follows the configured windows and threshold', () => {
    const other = Testing.synthScope((scope) => {
      new IdleAlarm(scope, 'alarm', { ...props, silentMinutes: 15, lowCpuMinutes: 40, lowCpuThresholdPercent: 0.39 });
    });
    const found = Object.values(JSON.parse(other).resource.aws_cloudwatch_metric_alarm) as any[];
    expect(found.find((a) => a.alarm_name.endsWith('-silent')).evaluation_periods).toBe(15);
    expect(found.find((a) => a.alarm_name.endsWith('-low-cpu'))).toMatchObject({ evaluation_periods: 40, threshold: 0.39 });
  });
});

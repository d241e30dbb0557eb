import { Testing } from 'cdktf';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { IdleAlarm, IdleAlarmProps } from '../../src/constructs/idle-alarm';

const props: IdleAlarmProps = {
  name: 'box', region: 'us-east-2', partition: 'aws', instanceCount: 2, instanceIdsRef: 'local.instance_ids',
  thresholdPercent: 3, periodSeconds: 60, evaluationPeriods: 3,
};

describe('IdleAlarm', () => {
  test('stops each box when average CPU stays below 3% for 3 one-minute periods', () => {
    // WHEN
    const synthesized = Testing.synthScope((scope) => { new IdleAlarm(scope, 'alarm', props); });
    // THEN
    expect(synthesized).toHaveResourceWithProperties(CloudwatchMetricAlarm, {
      count: 2,
      namespace: 'AWS/EC2',
      metric_name: 'CPUUtilization',
      statistic: 'Average',
      comparison_operator: 'LessThanThreshold',
      threshold: 3,
      period: 60,
      evaluation_periods: 3,
      datapoints_to_alarm: 3,
      treat_missing_data: 'notBreaching',
      dimensions: { InstanceId: '${try(local.instance_ids[count.index], "")}' },
      actions_enabled: true,
      alarm_actions: ['arn:aws:automate:us-east-2:ec2:stop'],
    });
  });

  test('follows the configured threshold and window', () => {
    const synthesized = Testing.synthScope((scope) => {
      new IdleAlarm(scope, 'alarm', { ...props, thresholdPercent: 5, periodSeconds: 300, evaluationPeriods: 6 });
    });
    expect(synthesized).toHaveResourceWithProperties(CloudwatchMetricAlarm, {
      threshold: 5, period: 300, evaluation_periods: 6,
      alarm_description: expect.stringContaining('below 5% for 30 minutes'),
    });
  });
});

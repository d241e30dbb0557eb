import { Construct } from 'constructs';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';

export interface IdleAlarmProps {
  readonly name: string;
  readonly region: string;
  readonly partition: string;
  /** One alarm per box. */
  readonly instanceCount: number;
  /** Reference (e.g. a local's fqn, no `${}`) to the list of the boxes' instance ids. */
  readonly instanceIdsRef: string;
  /** Average CPU below this, in percent, counts as idle. */
  readonly thresholdPercent: number;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
}

/**
 * The second way a box stops: CloudWatch stops it when its CPU has been idle for a while. It knows
 * nothing of logged-in users; the on-box idle check does.
 */
export class IdleAlarm extends Construct {
  constructor(scope: Construct, id: string, props: IdleAlarmProps) {
    super(scope, id);
    const minutes = (props.periodSeconds * props.evaluationPeriods) / 60;

    new CloudwatchMetricAlarm(this, 'cpu-idle', {
      count: props.instanceCount,
      alarmName: `${props.name}-\${count.index}-cpu-idle`,
      alarmDescription:
        `Stops ${props.name} box \${count.index} when average CPU stays below ${props.thresholdPercent}% ` +
        `for ${minutes} minutes.`,
      namespace: 'AWS/EC2',
      metricName: 'CPUUtilization',
      // try: with no box at all (`auto` with neither quota) the plan must fail on its guard alone.
      dimensions: { InstanceId: `\${try(${props.instanceIdsRef}[count.index], "")}` },
      statistic: 'Average',
      period: props.periodSeconds,
      evaluationPeriods: props.evaluationPeriods,
      datapointsToAlarm: props.evaluationPeriods,
      comparisonOperator: 'LessThanThreshold',
      threshold: props.thresholdPercent,
      // No data (a stopped box) must not count as idle, or the alarm would fire on every start.
      treatMissingData: 'notBreaching',
      // CKV_AWS_319.
      actionsEnabled: true,
      alarmActions: [`arn:${props.partition}:automate:${props.region}:ec2:stop`],
    });
  }
}

import { Construct } from 'constructs';
import { CloudwatchCompositeAlarm } from '@cdktf/provider-aws/lib/cloudwatch-composite-alarm';
import { CloudwatchMetricAlarm, CloudwatchMetricAlarmConfig } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';

export interface IdleAlarmProps {
  readonly name: string;
  readonly region: string;
  /** The AWS partition, e.g. `aws` (a plan-time value from `aws_partition`). */
  readonly partition: string;
  /** One set of alarms per box. */
  readonly instanceCount: number;
  /** Reference (e.g. a local's fqn, no `${}`) to the list of the boxes' instance ids. */
  readonly instanceIdsRef: string;
  /**
   * Namespace of the boxes' verdicts up to the instance id: each box publishes into this followed by its own
   * instance id (`TrainiumSpot/Idle/arn:<partition>:ec2:<region>:<account>:instance/`, catalog verdictNamespace),
   * the only namespace its role allows, so no box can publish another's verdict.
   */
  readonly verdictNamespacePrefix: string;
  /** Name of the verdict metric: 1 when the box's check stops it, 0 otherwise. */
  readonly verdictMetricName: string;
  /** Minutes without any verdict after which a box counts as silent. */
  readonly silentMinutes: number;
  /** Minutes of low CPU that, together with silence, stop a box. */
  readonly lowCpuMinutes: number;
  /** Average CPUUtilization (percent of all vCPUs) below which CPU counts as low. */
  readonly lowCpuThresholdPercent: number;
}

/** The composite rule over the alarms' name suffixes: silent and low CPU, while the box runs. */
export const DEAD_CHECK_RULE = 'ALARM(silent) AND ALARM(low-cpu) AND NOT ALARM(stopped)';

/**
 * The CloudWatch backstop behind the box's own idle check. It defers to the box: it stops a box only
 * (1) when the box said "stop" in two checks in a row and is still running (its shutdown failed), or
 * (2) when the box has published nothing for `silentMinutes` (a dead or hung check) while its CPU has
 * stayed low for `lowCpuMinutes`, and the box is running.
 *
 * AWS rules that shape it (CloudWatch User Guide, checked 2026-12-01):
 * - EC2 stop actions work on alarms over a single per-instance metric, which includes custom metrics
 *   with an `InstanceId` dimension (UsingAlarmActions.html); path (1) is such an alarm.
 * - Composite alarms cannot perform EC2 actions (AlarmThatSendsEmail.html, Create_Composite_Alarm.html),
 *   and neither can metric-math alarms, so path (2) is a composite alarm whose state change an
 *   EventBridge rule turns into a stop (IdleStopRule).
 * - Every child is a single-metric alarm, so no reading of metric-math `FILL`/`IF` semantics matters;
 *   what matters is `treat_missing_data`, set per alarm so that missing data can only keep a box up:
 *   the verdict and CPU alarms treat it as not breaching, and the two that stand for "silent" and
 *   "stopped" treat it as breaching. "stopped" guards path (2) on every reading of how an alarm whose
 *   evaluation range holds no data at all behaves (alarms-and-missing-data.html).
 */
export class IdleAlarm extends Construct {
  /** Reference (no `${}`) to the list of the composite alarms' ARNs, one per box. */
  readonly deadCheckAlarmArnsRef: string;

  constructor(scope: Construct, id: string, props: IdleAlarmProps) {
    super(scope, id);
    const box = `${props.name} box \${count.index}`;
    // try: with no box at all (`auto` with neither quota) the plan must fail on its guard alone.
    const boxId = `\${try(${props.instanceIdsRef}[count.index], "")}`;
    const instanceId = { InstanceId: boxId };
    // Where box n, and only box n, may publish its verdict.
    const verdictNamespace = `${props.verdictNamespacePrefix}${boxId}`;
    const perBox = (alarmId: string, config: Omit<CloudwatchMetricAlarmConfig, 'count' | 'alarmName' | 'period'>) =>
      new CloudwatchMetricAlarm(this, alarmId, {
        count: props.instanceCount,
        alarmName: `${props.name}-\${count.index}-${alarmId}`,
        period: 60,
        datapointsToAlarm: config.evaluationPeriods,
        // CKV_AWS_319; only the verdict alarm has an action.
        actionsEnabled: true,
        ...config,
      });

    perBox('verdict', {
      alarmDescription: `Stops ${box} when its idle check said stop in two checks in a row and the box still runs.`,
      namespace: verdictNamespace,
      metricName: props.verdictMetricName,
      dimensions: instanceId,
      statistic: 'Maximum',
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
      threshold: 1,
      evaluationPeriods: 2,
      // Silence is never a verdict to stop.
      treatMissingData: 'notBreaching',
      alarmActions: [`arn:${props.partition}:automate:${props.region}:ec2:stop`],
    });
    const silent = perBox('silent', {
      alarmDescription: `In alarm when ${box} has published no idle verdict for ${props.silentMinutes} minutes.`,
      namespace: verdictNamespace,
      metricName: props.verdictMetricName,
      dimensions: instanceId,
      statistic: 'SampleCount',
      comparisonOperator: 'LessThanThreshold',
      threshold: 1,
      evaluationPeriods: props.silentMinutes,
      treatMissingData: 'breaching',
    });
    const lowCpu = perBox('low-cpu', {
      alarmDescription: `In alarm when ${box} has averaged under ${props.lowCpuThresholdPercent}% CPU ` +
        `for ${props.lowCpuMinutes} minutes.`,
      namespace: 'AWS/EC2',
      metricName: 'CPUUtilization',
      dimensions: instanceId,
      statistic: 'Average',
      comparisonOperator: 'LessThanThreshold',
      threshold: props.lowCpuThresholdPercent,
      evaluationPeriods: props.lowCpuMinutes,
      // A stopped box has no CPU data: that must not read as low CPU.
      treatMissingData: 'notBreaching',
    });
    // Status checks report every minute while an instance runs, and not at all while it is stopped.
    const stopped = perBox('stopped', {
      alarmDescription: `In alarm while ${box} reports no status checks (stopped or stopping).`,
      namespace: 'AWS/EC2',
      metricName: 'StatusCheckFailed',
      dimensions: instanceId,
      statistic: 'SampleCount',
      comparisonOperator: 'LessThanThreshold',
      threshold: 1,
      evaluationPeriods: 1,
      treatMissingData: 'breaching',
    });

    const arnOf = (alarm: CloudwatchMetricAlarm) => `\${${alarm.fqn}[count.index].arn}`;
    const refs: Record<string, CloudwatchMetricAlarm> = { silent, 'low-cpu': lowCpu, stopped };
    const deadCheck = new CloudwatchCompositeAlarm(this, 'dead-check', {
      count: props.instanceCount,
      alarmName: `${props.name}-\${count.index}-dead-check`,
      alarmDescription: `In alarm when ${box} runs, its idle check has gone silent and its CPU stays low; ` +
        'an EventBridge rule then stops it.',
      alarmRule: DEAD_CHECK_RULE.replace(/ALARM\(([a-z-]+)\)/g, (_, key: string) => `ALARM("${arnOf(refs[key])}")`),
      actionsEnabled: false,
    });
    this.deadCheckAlarmArnsRef = `${deadCheck.fqn}[*].arn`;
  }
}

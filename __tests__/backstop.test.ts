/**
 * The CloudWatch backstop as the assembled stack has it: the alarms the timeline simulator's model
 * evaluates (__tests__/userdata/fixtures/backstop.conf) are exactly the synthesized ones, and the pieces
 * that carry a stop (the verdict the box publishes, its IAM, the EventBridge rule) are all there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEAD_CHECK_RULE } from '../src/constructs/idle-alarm';
import { lowCpuThresholdPercent } from '../src/stack';
import { blocksOf, synthesizeJson } from './support/synth';

const FIXTURE = path.join(__dirname, 'userdata', 'fixtures', 'backstop.conf');
/** The verdict's namespace as the model has it, one box's values as placeholders. */
const VERDICT_NAMESPACE = /^VERDICT_NAMESPACE='([^']+)'$/m.exec(fs.readFileSync(FIXTURE, 'utf8'))?.[1];
const METRICS: Record<string, [string | undefined, string]> = {
  verdict: [VERDICT_NAMESPACE, 'StopVerdict'],
  cpu: ['AWS/EC2', 'CPUUtilization'],
  status: ['AWS/EC2', 'StatusCheckFailed'],
};

/** A box's plan-time values in the synthesized alarms, written as the model's placeholders. */
function withPlaceholders(text: string): string {
  return text.replace('${data.aws_partition.partition.partition}', '<partition>')
    .replace(/\$\{data\.aws_caller_identity\.[^.}]+\.account_id\}/, '<account>')
    .replace('${try(local.instance-ids[count.index], "")}', '<instance-id>');
}

/** The fixture's alarms: name, metric, statistic, comparison, threshold, N, M, missing data, action. */
function modelAlarms(): string[][] {
  const text = fs.readFileSync(FIXTURE, 'utf8');
  const block = text.slice(text.indexOf('ALARMS=(') + 'ALARMS=('.length, text.indexOf(')\n', text.indexOf('ALARMS=(')));
  return block.trim().split('\n').map((line) => line.trim().replace(/^'|'$/g, '').split(' '));
}

describe('the backstop model in the timeline tests', () => {
  const json = synthesizeJson({});
  const alarms = blocksOf(json, 'aws_cloudwatch_metric_alarm');

  test.each(modelAlarms().map((fields) => [fields[0], fields]))('evaluates the synthesized %s alarm', (_, fields) => {
    // GIVEN the model's line
    const [name, metric, statistic, comparison, threshold, n, m, missing, action] = fields;
    // WHEN the stack is synthesized with the default config (trn1.2xlarge, 8 vCPUs)
    const alarm = alarms.find((a) => a.alarm_name === `trainium-spot-\${count.index}-${name}`);
    // THEN the alarm is the one the model evaluates
    expect(alarm).toBeDefined();
    expect(METRICS[metric][0]).toBeDefined();
    expect(withPlaceholders(alarm?.namespace)).toBe(METRICS[metric][0]);
    expect(alarm).toMatchObject({
      metric_name: METRICS[metric][1],
      statistic,
      comparison_operator: comparison,
      threshold: threshold.startsWith('busy-vcpus:') ? lowCpuThresholdPercent(Number(threshold.slice(11)), 8) : Number(threshold),
      period: 60,
      evaluation_periods: Number(n),
      datapoints_to_alarm: Number(m),
      treat_missing_data: missing,
    });
    expect(withPlaceholders(alarm?.dimensions.InstanceId)).toBe('<instance-id>');
    expect(Boolean(alarm?.alarm_actions)).toBe(action === 'stop');
  });

  test('has every synthesized alarm, and the composite rule the stack uses', () => {
    expect(alarms).toHaveLength(modelAlarms().length);
    const text = fs.readFileSync(FIXTURE, 'utf8');
    expect(text).toContain(`DEAD_CHECK_RULE='${DEAD_CHECK_RULE}'`);
    const composite = blocksOf(json, 'aws_cloudwatch_composite_alarm')[0];
    expect(composite.alarm_rule.replace(/"\$\{aws_cloudwatch_metric_alarm\.[^}]+\}"/g, (ref: string) => {
      const id = ref.slice('"${aws_cloudwatch_metric_alarm.'.length, ref.indexOf('['));
      return json.resource.aws_cloudwatch_metric_alarm[id].alarm_name.replace('trainium-spot-${count.index}-', '');
    })).toBe(DEAD_CHECK_RULE);
  });

  test('the low-CPU threshold is half a busy vCPU, whatever the size: 6.25 % of 8 vCPUs, 0.39 % of 128', () => {
    expect(lowCpuThresholdPercent(0.5, 8)).toBe(6.25);
    expect(lowCpuThresholdPercent(0.5, 128)).toBe(0.39);
    const big = blocksOf(synthesizeJson({ instanceType: 'trn1.32xlarge' }), 'aws_cloudwatch_metric_alarm');
    expect(big.find((a) => a.alarm_name.endsWith('-low-cpu'))?.threshold).toBe(0.39);
  });
});

describe('the assembled stack', () => {
  test('the box may publish its verdict into its own namespace only, and the rule stops it through the runbook', () => {
    // WHEN
    const json = synthesizeJson({});
    // THEN
    const documents = Object.values(json.data.aws_iam_policy_document);
    const publish = documents.find((d) => d.statement[0].actions[0] === 'cloudwatch:PutMetricData');
    expect(publish?.statement[0].condition).toEqual([
      { test: 'StringEquals', variable: 'cloudwatch:namespace', values: ['TrainiumSpot/Idle/$${ec2:SourceInstanceARN}'] },
    ]);
    expect(blocksOf(json, 'aws_cloudwatch_event_target')[0].arn).toMatch(
      /^arn:\$\{data\.aws_partition\.partition\.partition\}:ssm:us-east-2:\$\{data\.aws_caller_identity\.[^.]+\.account_id\}:automation-definition\/AWS-StopEC2Instance$/);
    expect(blocksOf(json, 'aws_cloudwatch_event_rule').some((r) => r.event_pattern.includes('CloudWatch Alarm State Change'))).toBe(true);
  });

  test('idleAlarm.enabled false leaves out every backstop piece; idle.publishVerdict false leaves out the publish right', () => {
    const off = synthesizeJson({ idleAlarm: { enabled: false }, idle: { publishVerdict: false } });
    expect(off.resource).not.toHaveProperty('aws_cloudwatch_metric_alarm');
    expect(off.resource).not.toHaveProperty('aws_cloudwatch_composite_alarm');
    expect(blocksOf(off, 'aws_cloudwatch_event_rule').some((r) => r.event_pattern.includes('CloudWatch Alarm State Change'))).toBe(false);
    expect(Object.values(off.data.aws_iam_policy_document).some((d) => d.statement[0].actions[0] === 'cloudwatch:PutMetricData')).toBe(false);
  });
});

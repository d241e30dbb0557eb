/**
 * Purchase markets: spot, on-demand, Capacity Blocks, capacity reservations, and `auto`, which
 * Terraform decides at plan time from the two quotas.
 */
import { createHash } from 'node:crypto';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { DataAwsServicequotasServiceQuota } from '@cdktf/provider-aws/lib/data-aws-servicequotas-service-quota';
import { Ec2Tag } from '@cdktf/provider-aws/lib/ec2-tag';
import { IamServiceLinkedRole } from '@cdktf/provider-aws/lib/iam-service-linked-role';
import { Instance } from '@cdktf/provider-aws/lib/instance';
import { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription';
import { SpotInstanceRequest } from '@cdktf/provider-aws/lib/spot-instance-request';
import { ConfigInput } from '../src/config';
import { DataBinding, bindData, localsFor, plan, terraformMissingReason } from './support/terraform';
import { TerraformJson, synthesize, synthesizeJson } from './support/synth';

const CAPACITY_BLOCK: ConfigInput = {
  market: 'capacity-block', instanceType: 'trn1.32xlarge', capacityReservationId: 'cr-0123456789abcdef0',
  availabilityZoneId: 'use2-az3',
};

/** Every output a user scripts against: identical across markets. */
const COMMON_OUTPUTS = [
  'availability_zone_id', 'availability_zones', 'instance_id', 'instance_ids', 'key_name', 'key_pair_id', 'market',
  'on_demand_price_per_hour', 'public_ip', 'public_ips', 'ssh_command', 'ssm_command', 'start_command',
];

describe.each<[string, ConfigInput]>([
  ['spot', {}],
  ['on-demand', { market: 'on-demand' }],
  ['capacity-block', CAPACITY_BLOCK],
  ['capacity-reservation', { market: 'capacity-reservation' }],
  ['auto', { market: 'auto' }],
])('the %s market', (market, input) => {
  const json = synthesizeJson(input);

  test('exposes the common outputs', () => {
    expect(Object.keys(json.output)).toEqual(expect.arrayContaining(COMMON_OUTPUTS));
  });

  test('puts one idle alarm on each box', () => {
    const alarm = Object.values(json.resource.aws_cloudwatch_metric_alarm)[0];
    expect(alarm.count).toBe(1);
    expect(alarm.dimensions.InstanceId).toBe('${local.instance-ids[count.index]}');
  });

  test('matches the snapshot', () => {
    expect(withUserDataDigest(json)).toMatchSnapshot();
  });

  test(`reports its market as ${market}`, () => {
    const value = json.output.market.value;
    if (market === 'auto') expect(value).toMatch(/^\$\{local\.market-decision_market_[0-9A-F]+\}$/);
    else expect(value).toBe(market);
  });
});

describe('spot', () => {
  test('has spot-only outputs and interruption notices', () => {
    const json = synthesizeJson({});
    expect(json.output).toHaveProperty('spot_request_ids');
    expect(json.output.spot_max_price_per_hour.value).toBe(1.34375);
    expect(synthesize({})).toHaveResourceWithProperties(CloudwatchEventRule, {
      event_pattern: expect.stringContaining('"EC2 Spot Instance Interruption Warning","EC2 Instance Rebalance Recommendation"'),
    });
  });

  test('subscribes notifyEmail to the interruption notices', () => {
    expect(synthesize({ notifyEmail: 'ml-team@example.com' })).toHaveResourceWithProperties(SnsTopicSubscription, {
      protocol: 'email', endpoint: 'ml-team@example.com',
    });
    expect(synthesize({})).not.toHaveResource(SnsTopicSubscription);
  });

  test('creates the Spot service-linked role only when asked', () => {
    expect(synthesize({})).not.toHaveResource(IamServiceLinkedRole);
    expect(synthesize({ createSpotServiceLinkedRole: true })).toHaveResourceWithProperties(IamServiceLinkedRole, {
      aws_service_name: 'spot.amazonaws.com',
    });
  });

  test('passes spotMaxPricePerHour as the spot price cap', () => {
    expect(synthesize({ spotMaxPricePerHour: 0.6 })).toHaveResourceWithProperties(SpotInstanceRequest, { spot_price: '0.6' });
    expect(synthesizeJson({ spotMaxPricePerHour: 0.6 }).output.spot_max_price_per_hour.value).toBe(0.6);
  });
});

describe('on-demand', () => {
  const synthesized = synthesize({ market: 'on-demand' });

  test('launches an aws_instance and no spot request, guarded by the on-demand quota', () => {
    expect(synthesized).not.toHaveResource(SpotInstanceRequest);
    expect(synthesized).toHaveDataSourceWithProperties(DataAwsServicequotasServiceQuota, { quota_code: 'L-2C3B7624' });
    expect(synthesized).toHaveResourceWithProperties(Instance, {
      lifecycle: expect.objectContaining({
        precondition: [expect.objectContaining({ error_message: expect.stringContaining('"Running On-Demand Trn instances" (L-2C3B7624)') })],
      }),
    });
  });

  test('tags the instance directly and needs no interruption notices', () => {
    expect(synthesized).toHaveResourceWithProperties(Instance, { tags: { Name: 'trainium-spot' } });
    expect(synthesized).not.toHaveResource(Ec2Tag);
    // The one event rule is the idle backstop's; none listens for spot notices.
    expect(synthesized).not.toHaveResourceWithProperties(CloudwatchEventRule, {
      event_pattern: expect.stringContaining('EC2 Spot Instance Interruption Warning'),
    });
  });

  test('uses the on-demand quota of the family: Inf for inf2', () => {
    expect(synthesize({ market: 'on-demand', instanceType: 'inf2.xlarge' }))
      .toHaveDataSourceWithProperties(DataAwsServicequotasServiceQuota, { quota_code: 'L-1945791B' });
  });
});

describe('capacity-block', () => {
  test('targets the block and reads no quota', () => {
    const synthesized = synthesize(CAPACITY_BLOCK);
    expect(synthesized).toHaveResourceWithProperties(Instance, {
      instance_type: 'trn1.32xlarge',
      instance_market_options: { market_type: 'capacity-block' },
      capacity_reservation_specification: { capacity_reservation_target: { capacity_reservation_id: 'cr-0123456789abcdef0' } },
    });
    expect(synthesized).not.toHaveDataSource(DataAwsServicequotasServiceQuota);
  });
});

describe('capacity-reservation', () => {
  test('targets the reservation by id, under the on-demand quota', () => {
    const synthesized = synthesize({ market: 'capacity-reservation', capacityReservationId: 'cr-0123456789abcdef0', availabilityZoneId: 'use2-az3' });
    expect(synthesized).toHaveResourceWithProperties(Instance, {
      capacity_reservation_specification: { capacity_reservation_target: { capacity_reservation_id: 'cr-0123456789abcdef0' } },
    });
    expect(synthesized).toHaveDataSourceWithProperties(DataAwsServicequotasServiceQuota, { quota_code: 'L-2C3B7624' });
  });
});

describe('instanceCount', () => {
  const synthesized = synthesize({ instanceCount: 3 });

  test('launches N identical boxes, each with its own tags and alarm', () => {
    expect(synthesized).toHaveResourceWithProperties(SpotInstanceRequest, { count: 3 });
    expect(synthesized).toHaveResourceWithProperties(Ec2Tag, { key: 'Name', count: 3 });
    expect(synthesized).toHaveResourceWithProperties(CloudwatchMetricAlarm, { count: 3 });
  });

  test('asks the quota for N x vCPUs', () => {
    const request = Object.values(JSON.parse(synthesized).resource.aws_spot_instance_request)[0] as any;
    expect(request.lifecycle.precondition[0].condition).toMatch(/\.value >= 24\}$/);
    expect(request.lifecycle.precondition[0].error_message).toContain('3 x trn1.2xlarge needs 24 vCPUs');
  });
});

describe('auto', () => {
  const json = synthesizeJson({ market: 'auto' });

  test('declares both instance resources with plan-time counts', () => {
    const spot = Object.values(json.resource.aws_spot_instance_request)[0];
    const onDemand = Object.values(json.resource.aws_instance)[0];
    expect(spot.count).toMatch(/^\$\{local\.market-decision_market_[0-9A-F]+ == "spot" \? 1 : 0\}$/);
    expect(onDemand.count).toMatch(/^\$\{local\.market-decision_market_[0-9A-F]+ == "on-demand" \? 1 : 0\}$/);
  });

  test('follows whichever instance exists in alarms and outputs', () => {
    expect(json.locals!['instance-ids']).toMatch(
      /^\$\{concat\(aws_spot_instance_request\.[^.]+\[\*\]\.spot_instance_id, aws_instance\.[^.]+\[\*\]\.id\)\}$/);
  });
});

/**
 * The stack with each instance's user data replaced by its size and digest: a changed script still
 * changes the snapshot, without a page of base64 in the diff (the user data has tests of its own).
 */
function withUserDataDigest(json: TerraformJson): TerraformJson {
  const copy = JSON.parse(JSON.stringify(json)) as TerraformJson;
  for (const type of ['aws_spot_instance_request', 'aws_instance']) {
    for (const block of Object.values(copy.resource[type] ?? {})) {
      const key = block.user_data !== undefined ? 'user_data' : 'user_data_base64';
      const userData = String(block[key]);
      block[key] = `<${Buffer.byteLength(userData)} bytes, sha256 ${createHash('sha256').update(userData).digest('hex')}>`;
    }
  }
  return copy;
}

// ------------------------------------------------------------------- the auto decision, on terraform
const skipReason = terraformMissingReason();
if (skipReason) console.warn(`SKIPPED auto-market engine tests: ${skipReason}`);
const engine = skipReason ? describe.skip : describe;

engine('the auto decision on terraform plan', () => {
  const json = synthesizeJson({ market: 'auto' });
  const harness = autoHarness(json);

  test.each<[number, number, string]>([
    [8, 0, 'spot'],
    [0, 8, 'on-demand'],
    [8, 8, 'spot'],
  ])('spot quota %i and on-demand quota %i launch %s', (spotQuota, onDemandQuota, market) => {
    // WHEN
    const result = plan(harness, { spot_quota: { value: spotQuota }, on_demand_quota: { value: onDemandQuota } });
    // THEN
    expect(result.errors).toEqual([]);
    expect(result.outputs.market).toBe(market);
    const box = market === 'spot' ? 'terraform_data.spot[0]' : 'terraform_data.on_demand[0]';
    expect(result.creates.sort()).toEqual([box, 'terraform_data.guard'].sort());
  });

  test('fails the plan when neither quota holds the box, naming both and both commands', () => {
    // WHEN
    const result = plan(harness, { spot_quota: { value: 0 }, on_demand_quota: { value: 0 } });
    // THEN
    expect(result.ok).toBe(false);
    expect(result.errors).toHaveLength(1);
    const detail = result.errors[0].detail;
    expect(detail).toMatch(/^Neither quota holds the boxes, so market "auto" has nowhere to launch\./);
    expect(detail).toContain('"All Trn Spot Instance Requests" (L-6B0D517C) is 0 vCPUs');
    expect(detail).toContain('"Running On-Demand Trn instances" (L-2C3B7624) is 0 vCPUs');
    expect(detail).toContain('--quota-code L-6B0D517C --desired-value 8 --region us-east-2');
    expect(detail).toContain('--quota-code L-2C3B7624 --desired-value 8 --region us-east-2');
  });
});

/** The synthesized counts, decision guard and market output, bound to two quota variables. */
function autoHarness(json: TerraformJson) {
  const quotaData = json.data.aws_servicequotas_service_quota;
  const nameOf = (code: string) => Object.entries(quotaData).find(([, block]) => block.quota_code === code)![0];
  const bindings: DataBinding[] = [
    { type: 'aws_servicequotas_service_quota', name: nameOf('L-6B0D517C'), variable: 'spot_quota' },
    { type: 'aws_servicequotas_service_quota', name: nameOf('L-2C3B7624'), variable: 'on_demand_quota' },
  ];
  const bind = (text: string) => bindData(text, bindings);
  const spotCount = bind(Object.values(json.resource.aws_spot_instance_request)[0].count);
  const onDemandCount = bind(Object.values(json.resource.aws_instance)[0].count);
  const guard = Object.values(json.resource.terraform_data)
    .find((block) => block.lifecycle?.precondition)!.lifecycle.precondition
    .map((p: { condition: string; error_message: string }) => ({ condition: bind(p.condition), error_message: bind(p.error_message) }));
  const market = bind(String(json.output.market.value));
  return {
    variable: { spot_quota: { type: 'any' }, on_demand_quota: { type: 'any' } },
    locals: localsFor([spotCount, onDemandCount, market, ...guard.flatMap((g: any) => [g.condition, g.error_message])],
      json.locals ?? {}, bindings),
    resource: {
      terraform_data: {
        spot: { count: spotCount, input: 'spot' },
        on_demand: { count: onDemandCount, input: 'on-demand' },
        guard: { input: market, lifecycle: { precondition: guard } },
      },
    },
    output: { market: { value: market } },
  };
}

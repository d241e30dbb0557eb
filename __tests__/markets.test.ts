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
import { TerraformJson, blocksOf, synthesize, synthesizeJson, userDataText } from './support/synth';

const CAPACITY_BLOCK: ConfigInput = {
  market: 'capacity-block', instanceType: 'trn1.32xlarge', capacityReservationId: 'cr-0123456789abcdef0',
  availabilityZoneId: 'use2-az3',
};

/** The tags a RunInstances box carries itself (the provider's default tags add Project and ManagedBy). */
const RUN_INSTANCES_BOX_TAGS = {
  Name: 'trainium-spot',
  'trainium-spot:deployment': expect.stringMatching(/^\$\{terraform_data\.deployment_id_[0-9A-F]{8}\.id\}$/),
};

/** Every output a user scripts against: identical across markets. */
const COMMON_OUTPUTS = [
  'availability_zone_id', 'availability_zones', 'deployment_id', 'instance_id', 'instance_ids', 'key_name', 'key_pair_id', 'market',
  'on_demand_price_per_hour', 'public_ip', 'public_ips', 'ssh_command', 'ssm_command', 'start_command',
];

describe.each<[string, ConfigInput]>([
  ['spot', {}],
  ['spot via run-instances', { spotLaunch: 'run-instances' }],
  ['on-demand', { market: 'on-demand' }],
  ['capacity-block', CAPACITY_BLOCK],
  ['capacity-reservation', { market: 'capacity-reservation' }],
  ['auto', { market: 'auto' }],
  ['auto via run-instances', { market: 'auto', spotLaunch: 'run-instances' }],
])('the %s market', (label, input) => {
  const market = label.split(' ')[0];
  const json = synthesizeJson(input);

  test('exposes the common outputs', () => {
    expect(Object.keys(json.output)).toEqual(expect.arrayContaining(COMMON_OUTPUTS));
  });

  test('puts one idle alarm on each box', () => {
    const alarm = Object.values(json.resource.aws_cloudwatch_metric_alarm)[0];
    expect(alarm.count).toBe(1);
    expect(alarm.dimensions.InstanceId).toBe('${try(local.instance-ids[count.index], "")}');
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

// ------------------------------------------------------------------- the two spot launch paths
/** The spot boxes' resource block, whichever path launched them. */
function spotBlock(json: TerraformJson): Record<string, any> {
  const requests = Object.values(json.resource.aws_spot_instance_request ?? {});
  const instances = Object.entries(json.resource.aws_instance ?? {}).filter(([name]) => name.startsWith('spot_'));
  const all = [...requests, ...instances.map(([, block]) => block)];
  if (all.length !== 1) throw new Error(`expected one spot resource, found ${all.length}`);
  return all[0];
}

describe.each<[string, ConfigInput]>([
  ['spot', {}],
  ['auto', { market: 'auto' }],
])('market %s', (market, marketInput) => {
  describe.each([1, 2])('with instanceCount %i', (instanceCount) => {
    const input = { ...marketInput, instanceCount };
    const countOf = (block: Record<string, any>) =>
      (market === 'auto' ? expect(block.count).toMatch(new RegExp(`== "spot" \\? ${instanceCount} : 0\\}$`)) : expect(block.count).toBe(instanceCount));

    describe('spotLaunch spot-request (the default)', () => {
      const json = synthesizeJson(input);
      const request = spotBlock(json);

      test('launches persistent spot requests that stop on interruption and wait for capacity', () => {
        expect(Object.keys(json.resource.aws_spot_instance_request)).toHaveLength(1);
        expect(request).toMatchObject({ spot_type: 'persistent', instance_interruption_behavior: 'stop', wait_for_fulfillment: true });
        expect(request.valid_until).toMatch(/^\$\{terraform_data\.[^.]+\.output\.valid_until\}$/);
        countOf(request);
      });

      test('tags the instances through aws_ec2_tag and requires IMDSv2 from the box itself', () => {
        expect(blocksOf(json, 'aws_ec2_tag').map((tag) => tag.key)).toEqual(expect.arrayContaining(['Name', 'Project']));
        expect(request).not.toHaveProperty('metadata_options');
        expect(userDataText(request)).toContain('  - [/usr/local/sbin/trainium-spot-require-imdsv2]');
        expect(JSON.stringify(json.data.aws_iam_policy_document)).toContain('ec2:ModifyInstanceMetadataOptions');
      });

      test('outputs the request ids and their EC2 status codes', () => {
        expect(json.output.spot_request_ids.value).toMatch(/^\$\{aws_spot_instance_request\.[^.]+\[\*\]\.id\}$/);
        expect(json.output.spot_request_status_codes.value).toMatch(/^\$\{aws_spot_instance_request\.[^.]+\[\*\]\.spot_bid_status\}$/);
      });
    });

    describe('spotLaunch run-instances', () => {
      const json = synthesizeJson({ ...input, spotLaunch: 'run-instances', cpuCoreCount: 2, spotMaxPricePerHour: 0.9 });
      const instance = spotBlock(json);

      test('launches aws_instance with a persistent spot request that stops on interruption, and no spot request resource', () => {
        expect(json.resource.aws_spot_instance_request).toBeUndefined();
        expect(instance.instance_market_options).toEqual({
          market_type: 'spot',
          spot_options: { spot_instance_type: 'persistent', instance_interruption_behavior: 'stop', max_price: '0.9' },
        });
        expect(instance.instance_initiated_shutdown_behavior).toBe('stop');
        countOf(instance);
      });

      test('sets IMDSv2 and the CPU options at launch, with no first-boot step and no right to change metadata', () => {
        expect(instance.metadata_options).toEqual({ http_endpoint: 'enabled', http_tokens: 'required', http_put_response_hop_limit: 1 });
        expect(instance.cpu_options).toEqual({ core_count: 2, threads_per_core: 2 });
        expect(userDataText(instance)).not.toContain('require-imdsv2');
        expect(JSON.stringify(json.data.aws_iam_policy_document)).not.toContain('ec2:ModifyInstanceMetadataOptions');
      });

      test('tags the instance and its volumes directly: no aws_ec2_tag, no valid_until', () => {
        expect(instance.tags).toEqual(RUN_INSTANCES_BOX_TAGS);
        expect(instance.volume_tags).toEqual({ Name: 'trainium-spot' });
        expect(json.resource.aws_ec2_tag).toBeUndefined();
        expect(instance).not.toHaveProperty('valid_until');
        expect(instance.instance_market_options.spot_options).not.toHaveProperty('valid_until');
        expect(Object.keys(json.resource.terraform_data ?? {}).filter((name) => name.includes('valid-until'))).toEqual([]);
      });

      test('keeps the alarm per box, the interruption notices, the AZ and the request ids in its outputs', () => {
        const alarm = Object.values(json.resource.aws_cloudwatch_metric_alarm)[0];
        expect(alarm.count).toBe(instanceCount);
        expect(Object.keys(json.resource.aws_cloudwatch_event_rule).filter((id) => id.startsWith('interruption-notice'))).toHaveLength(1);
        expect(String(json.output.availability_zones.value)).toMatch(/aws_instance\.spot_[^.]+\[\*\]\.availability_zone/);
        expect(json.output.spot_request_ids.value).toMatch(/^\$\{aws_instance\.spot_[^.]+\[\*\]\.spot_instance_request_id\}$/);
        expect(json.output).not.toHaveProperty('spot_request_status_codes');
        expect(json.output.spot_max_price_per_hour.value).toBe(0.9);
      });

      test('keeps the guards', () => {
        const guards: { condition: string; error_message: string }[] = instance.lifecycle.precondition ?? [];
        if (market === 'spot') {
          expect(guards[0].condition).toMatch(new RegExp(`\\.value >= ${8 * instanceCount}\\}$`));
          expect(guards[0].error_message).toContain('"All Trn Spot Instance Requests" (L-6B0D517C)');
        } else {
          const decisionGuard = Object.values(json.resource.terraform_data).find((block) => block.lifecycle?.precondition);
          expect(decisionGuard!.lifecycle.precondition[0].error_message).toMatch(/^Neither quota holds the boxes/);
        }
        expect(instance.lifecycle.ignore_changes).toEqual(['ami', 'user_data', 'user_data_base64', 'key_name', 'root_block_device[0].volume_size',
          'instance_market_options[0].spot_options[0].max_price']);
      });
    });
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

  test('creates the CloudWatch alarm-actions service-linked role only when asked', () => {
    // GIVEN an identity that may not create service-linked roles, so the alarm's stop action would never run
    const json = synthesizeJson({ createCloudWatchServiceLinkedRole: true });
    // THEN
    expect(Object.values(json.resource.aws_iam_service_linked_role)).toEqual([
      expect.objectContaining({ aws_service_name: 'events.amazonaws.com' }),
    ]);
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
        precondition: [
          expect.objectContaining({ error_message: expect.stringContaining('"Running On-Demand Trn instances" (L-2C3B7624)') }),
          // then the machine image guards: x86_64, and the name the preset expects
          expect.objectContaining({ condition: expect.stringContaining('architecture == "x86_64"') }),
          expect.objectContaining({ condition: expect.stringContaining('startswith(') }),
        ],
      }),
    });
  });

  test('tags the instance directly and needs no interruption notices', () => {
    expect(synthesized).toHaveResourceWithProperties(Instance, { tags: RUN_INSTANCES_BOX_TAGS });
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
 * The stack with each instance's user data and the agent document's content replaced by size and digest:
 * a changed script still changes the snapshot, without pages of base64 in the diff (both have tests of their own).
 */
function withUserDataDigest(json: TerraformJson): TerraformJson {
  const copy = JSON.parse(JSON.stringify(json)) as TerraformJson;
  const digest = (text: string) => `<${Buffer.byteLength(text)} bytes, sha256 ${createHash('sha256').update(text).digest('hex')}>`;
  for (const type of ['aws_spot_instance_request', 'aws_instance']) {
    for (const block of Object.values(copy.resource[type] ?? {})) block.user_data = digest(String(block.user_data));
  }
  for (const block of Object.values(copy.resource.aws_ssm_document ?? {})) block.content = digest(String(block.content));
  return copy;
}

// The auto decision itself runs on the real engine over the whole stack: engine/whole-stack.test.ts.

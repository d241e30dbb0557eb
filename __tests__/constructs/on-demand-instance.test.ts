import { Testing } from 'cdktf';
import { Instance } from '@cdktf/provider-aws/lib/instance';
import { InstanceMarket, OnDemandInstances } from '../../src/constructs/on-demand-instance';
import { LAUNCH } from '../support/launch';

const synth = (market: InstanceMarket) => Testing.synthScope((scope) => {
  new OnDemandInstances(scope, 'boxes', { launch: LAUNCH, market, count: 2, instanceTags: { Name: 'box' }, preconditions: [] });
});
const onlyInstance = (synthesized: string) =>
  Object.values(JSON.parse(synthesized).resource.aws_instance)[0] as Record<string, any>;

describe('OnDemandInstances', () => {
  test('launches the same machine as the spot market: IMDSv2, encrypted gp3, monitoring, profile, key', () => {
    expect(synth({ kind: 'on-demand' })).toHaveResourceWithProperties(Instance, {
      count: 2,
      instance_type: 'trn1.2xlarge',
      metadata_options: { http_endpoint: 'enabled', http_tokens: 'required', http_put_response_hop_limit: 1 },
      root_block_device: { volume_type: 'gp3', volume_size: 50, iops: 3000, throughput: 125, encrypted: true, delete_on_termination: true },
      monitoring: true,
      ebs_optimized: true,
      iam_instance_profile: 'box-profile',
      key_name: 'box-key',
      tags: { Name: 'box' },
    });
  });

  test('tags the instances with every tag it is given and their volumes with the Name alone (default tags add the rest)', () => {
    // GIVEN the tags only boxes carry, one of them known only at apply
    const instanceTags = { Name: 'box', 'trainium-spot:deployment': '${terraform_data.deployment.id}' };
    // WHEN
    const instance = onlyInstance(Testing.synthScope((scope) => {
      new OnDemandInstances(scope, 'boxes', { launch: LAUNCH, market: { kind: 'on-demand' }, count: 1, instanceTags, preconditions: [] });
    }));
    // THEN
    expect(instance.tags).toEqual(instanceTags);
    expect(instance.volume_tags).toEqual({ Name: 'box' });
  });

  test('stops, not terminates, when the idle check shuts the box down', () => {
    expect(synth({ kind: 'on-demand' })).toHaveResourceWithProperties(Instance, { instance_initiated_shutdown_behavior: 'stop' });
  });

  test('plain on-demand has no market options and no reservation', () => {
    const instance = onlyInstance(synth({ kind: 'on-demand' }));
    expect(instance).not.toHaveProperty('instance_market_options');
    expect(instance).not.toHaveProperty('capacity_reservation_specification');
  });

  test('a Capacity Block launches with market type capacity-block into the block', () => {
    expect(synth({ kind: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0' })).toHaveResourceWithProperties(Instance, {
      instance_market_options: { market_type: 'capacity-block' },
      capacity_reservation_specification: { capacity_reservation_target: { capacity_reservation_id: 'cr-0123456789abcdef0' } },
    });
  });

  test('a capacity reservation is targeted by id, or any open reservation is used', () => {
    expect(synth({ kind: 'capacity-reservation', capacityReservationId: 'cr-0123456789abcdef0' })).toHaveResourceWithProperties(Instance, {
      capacity_reservation_specification: { capacity_reservation_target: { capacity_reservation_id: 'cr-0123456789abcdef0' } },
    });
    expect(synth({ kind: 'capacity-reservation' })).toHaveResourceWithProperties(Instance, {
      capacity_reservation_specification: { capacity_reservation_preference: 'open' },
    });
    expect(onlyInstance(synth({ kind: 'capacity-reservation' }))).not.toHaveProperty('instance_market_options');
  });

  test('spot through RunInstances is a persistent request that stops on interruption, with IMDSv2 and CPU options at launch', () => {
    // WHEN
    const instance = onlyInstance(synth({ kind: 'spot' }));
    // THEN
    expect(instance.instance_market_options).toEqual({
      market_type: 'spot',
      spot_options: { spot_instance_type: 'persistent', instance_interruption_behavior: 'stop' },
    });
    expect(instance.metadata_options).toEqual({ http_endpoint: 'enabled', http_tokens: 'required', http_put_response_hop_limit: 1 });
    expect(instance.cpu_options).toEqual({ core_count: 4, threads_per_core: 2 });
    expect(instance.volume_tags).toEqual({ Name: 'box' });
  });

  test('a new key or a new spot price cap never replaces a running box (both force a new instance in the provider)', () => {
    // GIVEN the markets that launch through RunInstances
    const ignored = (market: InstanceMarket) => onlyInstance(synth(market)).lifecycle.ignore_changes;
    // THEN the key name is kept at creation on every market, and the price cap on spot
    expect(ignored({ kind: 'on-demand' })).toEqual(['ami', 'user_data', 'user_data_base64', 'key_name']);
    expect(ignored({ kind: 'spot', maxPricePerHour: 0.5 })).toEqual(['ami', 'user_data', 'user_data_base64', 'key_name', 'instance_market_options[0].spot_options[0].max_price']);
    expect(ignored({ kind: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0' })).toEqual(['ami', 'user_data', 'user_data_base64', 'key_name', 'instance_market_options']);
  });

  test('a spot price cap becomes max_price, and is left to AWS otherwise', () => {
    expect(onlyInstance(synth({ kind: 'spot', maxPricePerHour: 0.5 })).instance_market_options.spot_options.max_price).toBe('0.5');
    expect(onlyInstance(synth({ kind: 'spot' })).instance_market_options.spot_options).not.toHaveProperty('max_price');
  });
});

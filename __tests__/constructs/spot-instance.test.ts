import { DataResource, Testing } from 'cdktf';
import { Ec2Tag } from '@cdktf/provider-aws/lib/ec2-tag';
import { SpotInstanceRequest } from '@cdktf/provider-aws/lib/spot-instance-request';
import { SpotInstances, SpotInstancesProps } from '../../src/constructs/spot-instance';
import { LAUNCH } from '../support/launch';

const props: SpotInstancesProps = {
  launch: LAUNCH,
  count: 1,
  validDays: 365,
  availabilityZone: '${aws_subnet.box.availability_zone}',
  instanceTags: { Name: 'box', team: 'ml' },
  preconditions: [{ condition: '${1 > 0}', errorMessage: 'never' }],
};
const synth = (overrides: Partial<SpotInstancesProps> = {}) =>
  Testing.synthScope((scope) => { new SpotInstances(scope, 'spot', { ...props, ...overrides }); });
const onlyRequest = (synthesized: string) =>
  Object.values(JSON.parse(synthesized).resource.aws_spot_instance_request)[0] as Record<string, any>;

describe('SpotInstances', () => {
  test('is a persistent request that stops on interruption and waits for fulfilment', () => {
    expect(synth()).toHaveResourceWithProperties(SpotInstanceRequest, {
      spot_type: 'persistent',
      instance_interruption_behavior: 'stop',
      wait_for_fulfillment: true,
      instance_type: 'trn1.2xlarge',
      ami: 'ami-0123456789abcdef0',
      count: 1,
    });
  });

  test('launches with detailed monitoring, EBS optimization, the profile, key, network and user data', () => {
    expect(synth()).toHaveResourceWithProperties(SpotInstanceRequest, {
      monitoring: true,
      ebs_optimized: true,
      iam_instance_profile: 'box-profile',
      key_name: 'box-key',
      subnet_id: 'subnet-0123456789abcdef0',
      vpc_security_group_ids: ['sg-0123456789abcdef0'],
      user_data: '#cloud-config\n',
    });
  });

  test('has an encrypted gp3 root volume with the configured size, IOPS and throughput', () => {
    expect(synth()).toHaveResourceWithProperties(SpotInstanceRequest, {
      root_block_device: { volume_type: 'gp3', volume_size: 50, iops: 3000, throughput: 125, encrypted: true, delete_on_termination: true },
    });
  });

  test('sends no metadata or CPU options, which a spot request cannot carry (the box requires IMDSv2 itself)', () => {
    expect(onlyRequest(synth())).not.toHaveProperty('metadata_options');
    expect(onlyRequest(synth())).not.toHaveProperty('cpu_options');
  });

  test('expires at a time fixed at first apply, not at synth: the JSON holds no timestamp', () => {
    // WHEN
    const synthesized = synth({ validDays: 30 });
    // THEN
    expect(onlyRequest(synthesized).valid_until).toMatch(/^\$\{terraform_data\.[^.]+\.output\.valid_until\}$/);
    expect(synthesized).toHaveResourceWithProperties(DataResource, {
      input: { valid_until: '${timeadd(timestamp(), "720h")}' },
      lifecycle: { ignore_changes: ['input'] },
    });
    expect(synthesized).not.toMatch(/20\d\d-\d\d-\d\dT/);
  });

  test('never replaces a running box because a newer AMI, new user data, a new key or a new price cap appeared', () => {
    // every argument of a spot request but its tags forces a new one (AWS provider ec2_spot_instance_request.go)
    expect(onlyRequest(synth({ maxPricePerHour: 0.5 })).lifecycle.ignore_changes).toEqual(['ami', 'user_data', 'user_data_base64', 'key_name', 'spot_price']);
  });

  test('keeps a root volume size that follows the AMI at its creation value', () => {
    const request = onlyRequest(synth({ launch: { ...LAUNCH, rootVolumeSizeFollowsImage: true } }));
    expect(request.lifecycle.ignore_changes).toEqual(['ami', 'user_data', 'user_data_base64', 'key_name', 'root_block_device[0].volume_size', 'spot_price']);
  });


  test('carries the preconditions it is given', () => {
    expect(onlyRequest(synth()).lifecycle.precondition).toEqual([{ condition: '${1 > 0}', error_message: 'never' }]);
  });

  test('leaves the price cap to AWS (the on-demand price) unless one is given', () => {
    expect(onlyRequest(synth())).not.toHaveProperty('spot_price');
    expect(synth({ maxPricePerHour: 0.5 })).toHaveResourceWithProperties(SpotInstanceRequest, { spot_price: '0.5' });
  });

  test('tags the instance itself with aws_ec2_tag, one resource per tag key', () => {
    // WHEN
    const synthesized = synth();
    // THEN
    expect(synthesized).toHaveResourceWithProperties(Ec2Tag, {
      key: 'Name', value: 'box', count: 1,
      resource_id: expect.stringMatching(/^\$\{aws_spot_instance_request\.[^.]+\[count\.index\]\.spot_instance_id\}$/),
    });
    expect(synthesized).toHaveResourceWithProperties(Ec2Tag, { key: 'team', value: 'ml' });
  });

  test('takes a plan-time expression as its count', () => {
    expect(synth({ count: '${local.spot_count}' })).toHaveResourceWithProperties(SpotInstanceRequest, { count: '${local.spot_count}' });
  });
});

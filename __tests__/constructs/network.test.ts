import { Testing } from 'cdktf';
import { DataAwsSubnet } from '@cdktf/provider-aws/lib/data-aws-subnet';
import { DefaultSecurityGroup } from '@cdktf/provider-aws/lib/default-security-group';
import { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway';
import { Route } from '@cdktf/provider-aws/lib/route';
import { Subnet } from '@cdktf/provider-aws/lib/subnet';
import { Vpc } from '@cdktf/provider-aws/lib/vpc';
import { Network } from '../../src/constructs/network';

describe('Network', () => {
  test('creates a VPC with one public subnet selected by AZ ID, not AZ name', () => {
    // WHEN
    const synthesized = Testing.synthScope((scope) => {
      new Network(scope, 'network', { name: 'box', availabilityZoneId: 'use2-az3' });
    });
    // THEN
    expect(synthesized).toHaveResourceWithProperties(Vpc, { cidr_block: '10.42.0.0/16', enable_dns_hostnames: true });
    expect(synthesized).toHaveResourceWithProperties(Subnet, {
      availability_zone_id: 'use2-az3',
      map_public_ip_on_launch: true,
    });
    const subnet = Object.values(JSON.parse(synthesized).resource.aws_subnet)[0] as Record<string, unknown>;
    expect(subnet).not.toHaveProperty('availability_zone');
    expect(synthesized).toHaveResource(InternetGateway);
    expect(synthesized).toHaveResourceWithProperties(Route, { destination_cidr_block: '0.0.0.0/0' });
  });

  test('strips every rule from the VPC default security group', () => {
    const synthesized = Testing.synthScope((scope) => {
      new Network(scope, 'network', { name: 'box', availabilityZoneId: 'use2-az3' });
    });
    const group = Object.values(JSON.parse(synthesized).resource.aws_default_security_group)[0] as Record<string, unknown>;
    expect(synthesized).toHaveResource(DefaultSecurityGroup);
    expect(group).not.toHaveProperty('ingress');
    expect(group).not.toHaveProperty('egress');
  });

  test('reuses an existing subnet and creates no network', () => {
    // WHEN
    const synthesized = Testing.synthScope((scope) => {
      new Network(scope, 'network', { name: 'box', availabilityZoneId: 'use2-az3', subnetId: 'subnet-0123456789abcdef0' });
    });
    // THEN
    expect(synthesized).toHaveDataSourceWithProperties(DataAwsSubnet, { id: 'subnet-0123456789abcdef0' });
    expect(synthesized).not.toHaveResource(Vpc);
    expect(synthesized).not.toHaveResource(Subnet);
  });
});

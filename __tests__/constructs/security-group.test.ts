import { Testing } from 'cdktf';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';
import { BoxSecurityGroup } from '../../src/constructs/security-group';

const ingressRules = (synthesized: string) =>
  Object.values(JSON.parse(synthesized).resource.aws_vpc_security_group_ingress_rule ?? {}) as Record<string, unknown>[];

describe('BoxSecurityGroup', () => {
  test('has no ingress at all by default', () => {
    // WHEN
    const synthesized = Testing.synthScope((scope) => {
      new BoxSecurityGroup(scope, 'sg', { name: 'box', vpcId: 'vpc-1' });
    });
    // THEN
    expect(synthesized).toHaveResourceWithProperties(SecurityGroup, { vpc_id: 'vpc-1', name_prefix: 'box-' });
    expect(synthesized).not.toHaveResource(VpcSecurityGroupIngressRule);
  });

  test('opens SSH on 22/tcp only from the given IPv4 and IPv6 networks, each rule described', () => {
    // WHEN
    const synthesized = Testing.synthScope((scope) => {
      new BoxSecurityGroup(scope, 'sg', { name: 'box', vpcId: 'vpc-1', sshCidrs: ['203.0.113.7/32', '2001:db8::/64'] });
    });
    // THEN
    expect(synthesized).toHaveResourceWithProperties(VpcSecurityGroupIngressRule, {
      cidr_ipv4: '203.0.113.7/32', from_port: 22, to_port: 22, ip_protocol: 'tcp', description: 'SSH from 203.0.113.7/32',
    });
    expect(synthesized).toHaveResourceWithProperties(VpcSecurityGroupIngressRule, {
      cidr_ipv6: '2001:db8::/64', from_port: 22, to_port: 22, ip_protocol: 'tcp', description: 'SSH from 2001:db8::/64',
    });
    expect(ingressRules(synthesized)).toHaveLength(2);
  });

  test('leaves egress open, because the box installs packages', () => {
    const synthesized = Testing.synthScope((scope) => {
      new BoxSecurityGroup(scope, 'sg', { name: 'box', vpcId: 'vpc-1' });
    });
    expect(synthesized).toHaveResourceWithProperties(VpcSecurityGroupEgressRule, { cidr_ipv4: '0.0.0.0/0', ip_protocol: '-1' });
    expect(synthesized).toHaveResourceWithProperties(VpcSecurityGroupEgressRule, { cidr_ipv6: '::/0', ip_protocol: '-1' });
  });
});

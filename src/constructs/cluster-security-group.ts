import { Construct } from 'constructs';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';

export interface ClusterSecurityGroupProps {
  readonly name: string;
  readonly vpcId: string;
}

/**
 * One group for the head, the nodes and the shared storage: all traffic to and from its own members,
 * which EFA requires (EC2 User Guide, "Get started with EFA and MPI", step 1: a security group that
 * allows all inbound and outbound traffic to and from the security group itself,
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa-start.html#efa-start-security, checked 2026-12-07),
 * and all outbound traffic. No inbound from outside the cluster.
 */
export class ClusterSecurityGroup extends Construct {
  readonly securityGroupId: string;

  constructor(scope: Construct, id: string, props: ClusterSecurityGroupProps) {
    super(scope, id);
    const group = new SecurityGroup(this, 'group', {
      namePrefix: `${props.name}-cluster-`,
      description: `${props.name} cluster: head, compute nodes and shared storage; all traffic among them (EFA), none from outside`,
      vpcId: props.vpcId,
      tags: { Name: `${props.name}-cluster` },
      lifecycle: { createBeforeDestroy: true },
    });
    new VpcSecurityGroupIngressRule(this, 'from-members', {
      securityGroupId: group.id, referencedSecurityGroupId: group.id, ipProtocol: '-1', description: 'Cluster members (EFA needs all traffic)',
    });
    new VpcSecurityGroupEgressRule(this, 'to-members', {
      securityGroupId: group.id, referencedSecurityGroupId: group.id, ipProtocol: '-1', description: 'Cluster members (EFA needs all traffic)',
    });
    new VpcSecurityGroupEgressRule(this, 'to-anywhere', {
      securityGroupId: group.id, cidrIpv4: '0.0.0.0/0', ipProtocol: '-1', description: 'AWS endpoints and package mirrors',
    });
    this.securityGroupId = group.id;
  }
}

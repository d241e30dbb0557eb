import { Construct } from 'constructs';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';

export interface BoxSecurityGroupProps {
  readonly name: string;
  readonly vpcId: string;
  /**
   * CIDR blocks (IPv4 or IPv6) that may reach SSH on port 22. Validated by the config.
   * @default - none: no ingress at all; connect with Session Manager
   */
  readonly sshCidrs?: readonly string[];
}

const SSH_PORT = 22;

/** The box's firewall: closed to the world by default, SSH only from named networks, egress open. */
export class BoxSecurityGroup extends Construct {
  readonly securityGroupId: string;

  constructor(scope: Construct, id: string, props: BoxSecurityGroupProps) {
    super(scope, id);

    const group = new SecurityGroup(this, 'security-group', {
      namePrefix: `${props.name}-`,
      description: `${props.name}: SSH from named networks only; all egress`,
      vpcId: props.vpcId,
      tags: { Name: props.name },
      lifecycle: { createBeforeDestroy: true },
    });
    this.securityGroupId = group.id;

    (props.sshCidrs ?? []).forEach((cidr, index) => {
      new VpcSecurityGroupIngressRule(this, `ssh-${index}`, {
        securityGroupId: group.id,
        description: `SSH from ${cidr}`,
        ipProtocol: 'tcp',
        fromPort: SSH_PORT,
        toPort: SSH_PORT,
        ...(cidr.includes(':') ? { cidrIpv6: cidr } : { cidrIpv4: cidr }),
      });
    });

    // The box installs packages, pulls models and datasets, and talks to the SSM endpoints.
    new VpcSecurityGroupEgressRule(this, 'egress-ipv4', {
      securityGroupId: group.id,
      description: 'All outbound IPv4: packages, models, datasets, AWS APIs',
      ipProtocol: '-1',
      cidrIpv4: '0.0.0.0/0',
    });
    new VpcSecurityGroupEgressRule(this, 'egress-ipv6', {
      securityGroupId: group.id,
      description: 'All outbound IPv6: packages, models, datasets, AWS APIs',
      ipProtocol: '-1',
      cidrIpv6: '::/0',
    });
  }
}

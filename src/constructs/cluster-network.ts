import { Construct } from 'constructs';
import { DefaultSecurityGroup } from '@cdktf/provider-aws/lib/default-security-group';
import { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway';
import { Route } from '@cdktf/provider-aws/lib/route';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association';
import { Subnet } from '@cdktf/provider-aws/lib/subnet';
import { Vpc } from '@cdktf/provider-aws/lib/vpc';

const VPC_CIDR = '10.43.0.0/16';
const HEAD_SUBNET_CIDR = '10.43.0.0/24';
const NODE_SUBNET_CIDR = '10.43.16.0/20';

export interface ClusterNetworkProps {
  /** Prefix of the Name tags. */
  readonly name: string;
  /** The one AZ ID (not name) that offers the node type: nodes of one job sit together. */
  readonly availabilityZoneId: string;
}

/**
 * The cluster's own VPC in one AZ: a public subnet for the head, and a private subnet for the compute
 * nodes, whose default route goes through the head (a NAT instance, its source/destination check off):
 * nodes with several network cards get no public IP, and a NAT gateway would cost about $33 a month
 * while the cluster idles. The nodes reach the head, the shared storage and, through the head, AWS's
 * endpoints; nothing from outside reaches them.
 */
export class ClusterNetwork extends Construct {
  readonly vpcId: string;
  readonly headSubnetId: string;
  readonly nodeSubnetId: string;
  readonly nodeSubnetCidr = NODE_SUBNET_CIDR;
  private readonly nodeRoutes: RouteTable;

  constructor(scope: Construct, id: string, props: ClusterNetworkProps) {
    super(scope, id);
    const vpc = new Vpc(this, 'vpc', {
      cidrBlock: VPC_CIDR, enableDnsSupport: true, enableDnsHostnames: true, tags: { Name: `${props.name}-cluster` },
    });
    new DefaultSecurityGroup(this, 'default-security-group', { vpcId: vpc.id, tags: { Name: `${props.name}-cluster-unused-default` } });

    const headSubnet = new Subnet(this, 'head-subnet', {
      vpcId: vpc.id, cidrBlock: HEAD_SUBNET_CIDR, availabilityZoneId: props.availabilityZoneId, mapPublicIpOnLaunch: true,
      tags: { Name: `${props.name}-cluster-head-${props.availabilityZoneId}` },
    });
    const nodeSubnet = new Subnet(this, 'node-subnet', {
      vpcId: vpc.id, cidrBlock: NODE_SUBNET_CIDR, availabilityZoneId: props.availabilityZoneId, mapPublicIpOnLaunch: false,
      tags: { Name: `${props.name}-cluster-nodes-${props.availabilityZoneId}` },
    });
    const gateway = new InternetGateway(this, 'internet-gateway', { vpcId: vpc.id, tags: { Name: `${props.name}-cluster` } });
    const headRoutes = new RouteTable(this, 'head-route-table', { vpcId: vpc.id, tags: { Name: `${props.name}-cluster-head` } });
    new Route(this, 'head-default-route', { routeTableId: headRoutes.id, destinationCidrBlock: '0.0.0.0/0', gatewayId: gateway.id });
    new RouteTableAssociation(this, 'head-route-table-association', { routeTableId: headRoutes.id, subnetId: headSubnet.id });
    this.nodeRoutes = new RouteTable(this, 'node-route-table', { vpcId: vpc.id, tags: { Name: `${props.name}-cluster-nodes` } });
    new RouteTableAssociation(this, 'node-route-table-association', { routeTableId: this.nodeRoutes.id, subnetId: nodeSubnet.id });

    this.vpcId = vpc.id;
    this.headSubnetId = headSubnet.id;
    this.nodeSubnetId = nodeSubnet.id;
  }

  /** The nodes' default route: through this network interface (the head's). */
  routeNodesThrough(networkInterfaceId: string): void {
    new Route(this, 'node-default-route', {
      routeTableId: this.nodeRoutes.id, destinationCidrBlock: '0.0.0.0/0', networkInterfaceId,
    });
  }
}

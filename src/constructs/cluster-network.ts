import { Construct } from 'constructs';
import { Route } from '@cdktf/provider-aws/lib/route';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association';
import { Subnet } from '@cdktf/provider-aws/lib/subnet';
import { Network, SUBNET_CIDR } from './network';

/** Beside the head's public subnet (the box network's 10.42.0.0/24) in the same VPC. */
export const NODE_SUBNET_CIDR = '10.42.16.0/20';

export interface ClusterNetworkProps {
  /** Prefix of the Name tags. */
  readonly name: string;
  /** The one AZ ID (not name) that offers the node type: nodes of one job sit together. */
  readonly availabilityZoneId: string;
}

/**
 * The cluster's own VPC in one AZ: the box's network (a VPC with one public subnet, for the head) and a
 * private subnet for the compute nodes, whose default route goes through the head (a NAT instance, its
 * source/destination check off): nodes with several network cards get no public IP, and a NAT gateway would
 * cost about $33 a month while the cluster idles. The nodes reach the head, the shared storage and, through
 * the head, AWS's endpoints; nothing from outside reaches them.
 */
export class ClusterNetwork extends Construct {
  readonly vpcId: string;
  readonly headSubnetId: string;
  readonly nodeSubnetId: string;
  /** The head's subnet's CIDR block, known at synth: the head's fixed address is in it. */
  readonly headSubnetCidr = SUBNET_CIDR;
  /** The nodes' subnet's CIDR block, known at synth: the head masquerades it. */
  readonly nodeSubnetCidr = NODE_SUBNET_CIDR;
  private readonly nodeRoutes: RouteTable;

  constructor(scope: Construct, id: string, props: ClusterNetworkProps) {
    super(scope, id);
    const name = `${props.name}-cluster`;
    const network = new Network(this, 'public', { name, availabilityZoneId: props.availabilityZoneId });
    const nodeSubnet = new Subnet(this, 'node-subnet', {
      vpcId: network.vpcId, cidrBlock: NODE_SUBNET_CIDR, availabilityZoneId: props.availabilityZoneId, mapPublicIpOnLaunch: false,
      tags: { Name: `${name}-nodes-${props.availabilityZoneId}` },
    });
    this.nodeRoutes = new RouteTable(this, 'node-route-table', { vpcId: network.vpcId, tags: { Name: `${name}-nodes` } });
    new RouteTableAssociation(this, 'node-route-table-association', { routeTableId: this.nodeRoutes.id, subnetId: nodeSubnet.id });

    this.vpcId = network.vpcId;
    this.headSubnetId = network.subnetId;
    this.nodeSubnetId = nodeSubnet.id;
  }

  /** The nodes' default route: through this network interface (the head's). */
  routeNodesThrough(networkInterfaceId: string): void {
    new Route(this, 'node-default-route', {
      routeTableId: this.nodeRoutes.id, destinationCidrBlock: '0.0.0.0/0', networkInterfaceId,
    });
  }
}

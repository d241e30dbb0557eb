import { Construct } from 'constructs';
import { DataAwsSubnet } from '@cdktf/provider-aws/lib/data-aws-subnet';
import { DefaultSecurityGroup } from '@cdktf/provider-aws/lib/default-security-group';
import { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway';
import { Route } from '@cdktf/provider-aws/lib/route';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association';
import { Subnet } from '@cdktf/provider-aws/lib/subnet';
import { Vpc } from '@cdktf/provider-aws/lib/vpc';

const VPC_CIDR = '10.42.0.0/16';
/** The public subnet of a VPC this construct makes (the cluster's head lives in it too). */
export const SUBNET_CIDR = '10.42.0.0/24';

export interface NetworkProps {
  /** Prefix of the Name tags. */
  readonly name: string;
  /** The AZ ID (not name: names differ between accounts) the subnet is created in. */
  readonly availabilityZoneId: string;
  /**
   * Use this existing subnet instead of creating a VPC.
   * @default - a new VPC with one public subnet in `availabilityZoneId`
   */
  readonly subnetId?: string;
}

/** Where the box lives: a small public VPC of our own, or a subnet the user already has. */
export class Network extends Construct {
  readonly vpcId: string;
  readonly subnetId: string;
  /** The AZ ID of the subnet, known at plan time (a data source for an existing subnet). */
  readonly availabilityZoneId: string;
  /** The Availability Zone name of the subnet (names differ between accounts; known after apply). */
  readonly availabilityZone: string;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);

    if (props.subnetId !== undefined) {
      const existing = new DataAwsSubnet(this, 'existing-subnet', { id: props.subnetId });
      this.vpcId = existing.vpcId;
      this.subnetId = existing.id;
      this.availabilityZoneId = existing.availabilityZoneId;
      this.availabilityZone = existing.availabilityZone;
      return;
    }

    const vpc = new Vpc(this, 'vpc', {
      cidrBlock: VPC_CIDR,
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: { Name: props.name },
    });
    // The VPC's default security group allows all traffic between its members; nothing uses it,
    // so take every rule away (CKV2_AWS_12).
    new DefaultSecurityGroup(this, 'default-security-group', { vpcId: vpc.id, tags: { Name: `${props.name}-unused-default` } });

    const subnet = new Subnet(this, 'public-subnet', {
      vpcId: vpc.id,
      cidrBlock: SUBNET_CIDR,
      availabilityZoneId: props.availabilityZoneId,
      // The box is reached by SSH or Session Manager and installs packages: it needs a public IP
      // (a NAT gateway would cost more per month than many hours of the box).
      mapPublicIpOnLaunch: true,
      tags: { Name: `${props.name}-public-${props.availabilityZoneId}` },
    });
    const gateway = new InternetGateway(this, 'internet-gateway', { vpcId: vpc.id, tags: { Name: props.name } });
    const routes = new RouteTable(this, 'route-table', { vpcId: vpc.id, tags: { Name: `${props.name}-public` } });
    new Route(this, 'default-route', {
      routeTableId: routes.id,
      destinationCidrBlock: '0.0.0.0/0',
      gatewayId: gateway.id,
    });
    new RouteTableAssociation(this, 'route-table-association', { routeTableId: routes.id, subnetId: subnet.id });

    this.vpcId = vpc.id;
    this.subnetId = subnet.id;
    this.availabilityZoneId = props.availabilityZoneId;
    this.availabilityZone = subnet.availabilityZone;
  }
}

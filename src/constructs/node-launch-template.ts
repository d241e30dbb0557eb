import { Construct } from 'constructs';
import { Precondition } from 'cdktf';
import { LaunchTemplate } from '@cdktf/provider-aws/lib/launch-template';
import { nodeLaunchTemplateName } from '../cluster/slurm';
import type { ClusterMarket } from '../markets';
import { MARKET_FACTS } from '../markets';

export interface NodeLaunchTemplateProps {
  /** Names the template `<name>-nodes`: a name known at synth, which the head's resume program launches from. */
  readonly name: string;
  readonly instanceType: string;
  readonly imageId: string;
  readonly rootVolumeSizeGiB: number;
  /** Network cards that carry EFA (the catalog's `efaNetworkCards`): one EFA interface on each. */
  readonly efaNetworkCards: number;
  readonly subnetId: string;
  readonly securityGroupId: string;
  readonly instanceProfileName: string;
  readonly market: ClusterMarket;
  /** The Capacity Block (market capacity-block). */
  readonly capacityReservationId?: string;
  /** The cluster placement group, where the market allows one. */
  readonly placementGroupName?: string;
  /** Tags for the instances and their volumes. */
  readonly tags: Readonly<Record<string, string>>;
  readonly preconditions: Precondition[];
}

/**
 * The compute nodes, as Slurm's resume program launches them: Terraform creates no compute instance.
 * - EFA on every network card: card 0 carries the primary interface, of type `efa` (EFA with ENA, so it
 *   has the node's IP); every other card an `efa-only` interface at device index 0, as AWS recommends for
 *   instance types with several network cards (EC2 User Guide, "Maximize network bandwidth on Amazon EC2
 *   instances with multiple network cards", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa-acc-inst-types.html,
 *   checked 2026-12-07). With interfaces in the template, a launch may not name a subnet, security groups or a
 *   public IP of its own; such instances get no public IP (nodes reach out through the head).
 * - IMDSv2 only, hop limit 1, and instance tags in the metadata (a node reads its Slurm name from its tag).
 * - An encrypted gp3 root volume; the node's instance profile.
 * - The market's options: spot nodes are one-time and terminate when interrupted (Slurm requeues the job);
 *   a Capacity Block's nodes launch into the block, which brings its own placement.
 */
export class NodeLaunchTemplate extends Construct {
  readonly launchTemplateId: string;
  readonly launchTemplateArn: string;
  readonly launchTemplateName: string;

  constructor(scope: Construct, id: string, props: NodeLaunchTemplateProps) {
    super(scope, id);
    const template = new LaunchTemplate(this, 'template', {
      name: nodeLaunchTemplateName(props.name),
      description: `${props.name} cluster compute node (${props.instanceType}); launched by Slurm's resume program on the head`,
      imageId: props.imageId,
      instanceType: props.instanceType,
      ebsOptimized: 'true',
      iamInstanceProfile: { name: props.instanceProfileName },
      networkInterfaces: Array.from({ length: props.efaNetworkCards }, (_, card) => ({
        networkCardIndex: card,
        deviceIndex: 0,
        interfaceType: card === 0 ? 'efa' : 'efa-only',
        subnetId: props.subnetId,
        securityGroups: [props.securityGroupId],
        associatePublicIpAddress: 'false',
        deleteOnTermination: 'true',
      })),
      metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1, instanceMetadataTags: 'enabled' },
      blockDeviceMappings: [{
        deviceName: '/dev/sda1',
        ebs: { volumeType: 'gp3', volumeSize: props.rootVolumeSizeGiB, encrypted: 'true', deleteOnTermination: 'true' },
      }],
      monitoring: { enabled: true },
      ...marketOptions(props.market, props.capacityReservationId),
      ...(props.placementGroupName !== undefined && MARKET_FACTS[props.market].clusterPlacementGroup
        ? { placement: { groupName: props.placementGroupName } } : {}),
      tagSpecifications: ['instance', 'volume', 'network-interface'].map((resourceType) => ({ resourceType, tags: { ...props.tags } })),
      updateDefaultVersion: true,
      lifecycle: { precondition: props.preconditions },
    });
    this.launchTemplateId = template.id;
    this.launchTemplateArn = template.arn;
    this.launchTemplateName = template.name;
  }
}

function marketOptions(market: ClusterMarket, capacityReservationId?: string) {
  switch (market) {
    case 'spot':
      return { instanceMarketOptions: { marketType: 'spot', spotOptions: { spotInstanceType: 'one-time', instanceInterruptionBehavior: 'terminate' } } };
    case 'capacity-block':
      return {
        instanceMarketOptions: { marketType: 'capacity-block' },
        capacityReservationSpecification: { capacityReservationTarget: { capacityReservationId } },
      };
    case 'on-demand':
      return {};
  }
}

import { Construct } from 'constructs';
import { Fn, Precondition, ref, Token } from 'cdktf';
import { LaunchTemplate } from '@cdktf/provider-aws/lib/launch-template';
import { renderNodeUserData, type SharedStorageType } from '../cluster/node-user-data';
import { nodeLaunchTemplateName } from '../cluster/slurm';
import type { ClusterMarket } from '../markets';
import { MARKET_FACTS } from '../markets';

export interface NodeLaunchTemplateProps {
  /**
   * Names the template `<name>-nodes`: a name known at synth, which the head's resume program launches from. It is
   * the Slurm cluster's name too (ClusterName, the node names' prefix).
   */
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
  /** The cluster's Region (the node reads the munge key there). */
  readonly region: string;
  /** The head's private address: a node's slurmd fetches slurm.conf from slurmctld there. An IP, or a plan-time value. */
  readonly headAddress: string;
  /** The SSM SecureString that holds the munge key (MungeKey.parameterName). */
  readonly mungeKeyParameterName: string;
  /** What the munge key parameter holds until the head has written the key (MUNGE_KEY_UNSET). */
  readonly mungeKeyUnset: string;
  /** Mounted at /shared on every node: SharedStorage's type and mount source. */
  readonly sharedStorage: { readonly type: SharedStorageType; readonly mountSource: string };
  /**
   * Minutes without an answer from slurmctld after which a node powers itself off (ClusterConfProps.nodeOrphanMinutes).
   * @default DEFAULT_NODE_ORPHAN_MINUTES (20)
   */
  readonly nodeOrphanMinutes?: number;
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
 * - The node's user data (src/cluster/node-user-data.ts): at first boot it installs Slurm and munge, fetches
 *   the munge key, mounts /shared and starts slurmd under the name in its instance tag, so a node Slurm
 *   launches registers by itself.
 * - A shutdown from inside the node terminates its instance (`instance_initiated_shutdown_behavior`, EC2's default
 *   being stop: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_ChangingInstanceInitiatedShutdownBehavior.html,
 *   and the provider's argument, https://registry.terraform.io/providers/hashicorp/aws/6.25.0/docs/resources/launch_template,
 *   checked 2026-12-07). The node's guard (node-guard.sh) powers a node off whose head is gone, which must end the
 *   bill, not leave a stopped instance behind. Terminate is also the only behaviour a spot node can have: EC2 stops
 *   Spot Instances only of persistent requests, and ours are one-time
 *   (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/interruption-behavior.html, checked 2026-12-07).
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
      instanceInitiatedShutdownBehavior: 'terminate',
      userData: terraformUserData(renderNodeUserData({
        cluster: {
          name: props.name,
          clusterName: props.name,
          region: props.region,
          market: props.market,
          capacityReservationId: props.capacityReservationId,
          headHost: props.headAddress,
          nodeOrphanMinutes: props.nodeOrphanMinutes,
        },
        mungeKeyParameterName: props.mungeKeyParameterName,
        mungeKeyUnset: props.mungeKeyUnset,
        sharedStorage: props.sharedStorage,
      })),
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

/**
 * The launch template's `user_data` (base64): encoded here when the text is all known at synth, else by
 * Terraform's base64encode, with each plan-time value (`${...}`) a reference Terraform fills in.
 */
export function terraformUserData(text: string): string {
  if (!text.includes('${')) return Buffer.from(text, 'utf8').toString('base64');
  // A raw `${resource.attribute}` string (SharedStorage.mountSource) would be escaped as text inside a function
  // call; as a reference it stays an expression. cdktf's own tokens already are.
  const withReferences = text.replace(/\$\{(?!TfToken\[)([^}]*)\}/g, (_whole, expression: string) => Token.asString(ref(expression)));
  return Fn.base64encode(withReferences);
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

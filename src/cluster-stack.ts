/**
 * The cluster's own stack, `trainium-spot-cluster`: synthesized beside the box stack when the config has
 * `cluster`, with its own state, so either can be deployed, changed or destroyed alone. It composes the
 * cluster constructs from the same config, catalog and market table as the box stack.
 */
import { Construct } from 'constructs';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { PlacementGroup } from '@cdktf/provider-aws/lib/placement-group';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { configureBackend } from './backend';
import { ec2IpHostname, HEAD_STATE_SAVE_LOCATION, HEAD_TAG_KEY, headPrivateIp, renderHeadAgentDocument } from './cluster/head-agent';
import { renderClusterConf, renderSlurmConf } from './cluster/slurm';
import {
  CLUSTER_TAG_KEY, IDLE_METRIC, ImageChoice, instanceArnPrefix, INSTANCE_TYPES, instanceFamily, resolveImage, verdictNamespace,
} from './catalog';
import type { BackendSettings, Config } from './config';
import { DEFAULT_ROOT_VOLUME_SIZE_GIB } from './config';
import { ClusterHead } from './constructs/cluster-head';
import { ClusterHeadAgent } from './constructs/cluster-head-agent';
import { ClusterNetwork } from './constructs/cluster-network';
import { ClusterRoles } from './constructs/cluster-roles';
import { ClusterSecurityGroup } from './constructs/cluster-security-group';
import { IdleAlarm } from './constructs/idle-alarm';
import { IdleStopRule } from './constructs/idle-stop-rule';
import { MachineImage } from './constructs/machine-image';
import { MUNGE_KEY_UNSET, MungeKey } from './constructs/munge-key';
import { NodeLaunchTemplate } from './constructs/node-launch-template';
import { QuotaGuard } from './constructs/quota-guard';
import { SharedStorage } from './constructs/shared-storage';
import { MARKET_FACTS, quotasDrawnOn } from './markets';
import { ownTags, projectTags } from './project-tags';
import { lowCpuThresholdPercent } from './stack';

/** `cdktf synth` writes cdktf.out/stacks/trainium-spot-cluster/cdk.tf.json. */
export const CLUSTER_STACK_NAME = 'trainium-spot-cluster';

/** The cluster's state apart from the box's: its own S3 key or Terraform Cloud workspace (a local file is per stack already). */
export function clusterBackend(settings: BackendSettings): BackendSettings {
  switch (settings.type) {
    case 's3':
      return { ...settings, key: settings.key.replace(/(\.tfstate)?$/, '-cluster$1') };
    case 'cloud':
      return { ...settings, workspace: `${settings.workspace}-cluster` };
    default:
      return settings;
  }
}

/**
 * vCPUs of the head types whose count is known here, for the backstop's low-CPU threshold: m7i.large, the default,
 * has 2 (AWS's M7i table). Any other head type is taken to have as many as the largest type of the catalog
 * (trn1.32xlarge, 128): a lower threshold, so the backstop errs towards leaving a working head up.
 */
const HEAD_VCPUS: Readonly<Record<string, number>> = { 'm7i.large': 2 };
const HEAD_VCPUS_UNKNOWN = Math.max(...Object.values(INSTANCE_TYPES).map((t) => t.vcpus));

/** The head's CPUUtilization below which the backstop counts it as quiet. */
export function headLowCpuThresholdPercent(headInstanceType: string, busyVcpus: number): number {
  return lowCpuThresholdPercent(busyVcpus, HEAD_VCPUS[headInstanceType] ?? HEAD_VCPUS_UNKNOWN);
}

export class TrainiumSpotClusterStack extends TerraformStack {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id);
    const cluster = config.cluster;
    if (!cluster) throw new Error('TrainiumSpotClusterStack: the config has no cluster');
    const facts = INSTANCE_TYPES[cluster.instanceType];
    const market = MARKET_FACTS[cluster.market];

    configureBackend(this, id, clusterBackend(config.backend), config.region);
    const clusterTag = { key: CLUSTER_TAG_KEY, value: config.name };
    new AwsProvider(this, 'aws', { region: config.region, defaultTags: [{ tags: { ...projectTags(config), [clusterTag.key]: clusterTag.value } }] });
    const partition = new DataAwsPartition(this, 'partition').partition;
    const accountId = new DataAwsCallerIdentity(this, 'caller').accountId;

    // ---------------------------------------------------------------- network and identities
    const availabilityZoneId = facts.offeredIn[config.region][0];
    const network = new ClusterNetwork(this, 'network', { name: config.name, availabilityZoneId });
    const securityGroup = new ClusterSecurityGroup(this, 'security-group', {
      name: config.name, vpcId: network.vpcId,
    });
    const mungeKey = new MungeKey(this, 'munge-key', { name: config.name });
    // The head publishes its idle verdict into its own namespace, as a box does.
    const headArnPrefix = instanceArnPrefix(partition, config.region, accountId);
    const roles = new ClusterRoles(this, 'roles', {
      name: config.name, region: config.region, partition, accountId, clusterTag, mungeKeyParameterName: mungeKey.parameterName,
      headPublishesVerdict: config.idle.enabled && config.idle.publishVerdict,
    });

    // ---------------------------------------------------------------- the head and /shared
    const storage = new SharedStorage(this, 'shared-storage', {
      name: config.name, storage: cluster.sharedStorage, subnetId: network.nodeSubnetId, securityGroupId: securityGroup.securityGroupId,
    });
    // The head's address and host name are known at synth: slurm.conf and the nodes' cluster.conf hold them as is.
    const headIp = headPrivateIp(network.headSubnetCidr);
    const headTag = { key: HEAD_TAG_KEY, value: config.name };
    const head = new ClusterHead(this, 'head', {
      name: config.name,
      instanceType: cluster.headInstanceType,
      subnetId: network.headSubnetId,
      privateIp: headIp,
      securityGroupId: securityGroup.securityGroupId,
      instanceProfileName: roles.headProfileName,
      tags: { Name: `${config.name}-head`, [clusterTag.key]: clusterTag.value, [headTag.key]: headTag.value },
    });
    network.routeNodesThrough(head.networkInterfaceId);

    // ---------------------------------------------------------------- the compute nodes
    const image = new MachineImage(this, 'node-image', {
      imageSetting: config.image,
      image: resolveImage(config.image, instanceFamily(cluster.instanceType)!) as ImageChoice,
      rootVolumeSizeGiB: config.rootVolumeSizeGiB ?? DEFAULT_ROOT_VOLUME_SIZE_GIB,
      rootVolumeSizeExplicit: config.rootVolumeSizeExplicit,
    });
    const quotaGuard = new QuotaGuard(this, 'quota-guard', {
      region: config.region,
      instanceType: cluster.instanceType,
      instanceCount: cluster.nodes,
      vcpusPerInstance: facts.vcpus,
      quotas: quotasDrawnOn(cluster.market, facts.family),
    });
    const placementGroupName = market.clusterPlacementGroup ? `${config.name}-cluster` : undefined;
    const placementGroup = placementGroupName !== undefined
      ? new PlacementGroup(this, 'placement-group', { name: placementGroupName, strategy: 'cluster' })
      : undefined;
    const nodes = new NodeLaunchTemplate(this, 'nodes', {
      name: config.name,
      instanceType: cluster.instanceType,
      imageId: image.imageId,
      rootVolumeSizeGiB: image.rootVolumeSizeGiB,
      efaNetworkCards: facts.efaNetworkCards!,
      subnetId: network.nodeSubnetId,
      securityGroupId: securityGroup.securityGroupId,
      instanceProfileName: roles.nodeProfileName,
      market: cluster.market,
      capacityReservationId: cluster.capacityReservationId,
      placementGroupName: placementGroup?.name,
      tags: { Name: `${config.name}-node`, [clusterTag.key]: clusterTag.value },
      // ---- the node's first boot (user data): the head's address, the munge key, /shared
      region: config.region,
      headAddress: headIp,
      mungeKeyParameterName: mungeKey.parameterName,
      mungeKeyUnset: MUNGE_KEY_UNSET,
      sharedStorage: { type: storage.type, mountSource: storage.mountSource },
      // ---- end of the node's first boot
      preconditions: [
        ...market.quotas.map((m) => quotaGuard.precondition(m)),
        ...(image.rootVolumeGuard ? [image.rootVolumeGuard] : []),
        ...image.imageGuards,
      ],
    });
    roles.grantHeadLaunches(nodes.launchTemplateArn);

    // ---------------------------------------------------------------- what runs on the head
    const headAgent = new ClusterHeadAgent(this, 'head-agent', {
      name: config.name,
      headTag,
      instanceArnPrefix: headArnPrefix,
      sharedStorageSource: storage.mountSource,
      document: renderHeadAgentDocument({
        name: config.name,
        nodeSubnetCidr: network.nodeSubnetCidr,
        region: config.region,
        idle: config.idle,
        sharedStorageType: storage.type,
        slurmConf: renderSlurmConf({
          clusterName: config.name,
          headHostname: ec2IpHostname(headIp),
          headAddress: headIp,
          nodes: cluster.nodes,
          cpusPerNode: facts.vcpus,
          memoryMiB: facts.memoryGiB * 1024,
          nodeIdleMinutes: cluster.nodeIdleMinutes,
          paths: { stateSaveLocation: HEAD_STATE_SAVE_LOCATION },
        }),
        clusterConf: renderClusterConf({
          name: config.name,
          clusterName: config.name,
          region: config.region,
          market: cluster.market,
          capacityReservationId: cluster.capacityReservationId,
          placementGroupName,
          headHost: headIp,
          mungeKeyParameter: mungeKey.parameterName,
          mungeKeyUnset: MUNGE_KEY_UNSET,
        }),
      }),
    });

    // ---------------------------------------------------------------- the head stops itself when idle
    // The idle check on the head (slurm detector on: jobs and compute nodes not powered down are work) shuts it
    // down, which stops it (instanceInitiatedShutdownBehavior). The backstop, as for a box of count 1: it stops a
    // head whose check said stop and did not, or went silent while its CPU stayed low.
    if (config.idleAlarm.enabled) {
      const headIds = `[${head.instanceIdRef}]`;
      const alarm = new IdleAlarm(this, 'head-idle-alarm', {
        name: `${config.name}-head`,
        region: config.region,
        partition,
        instanceCount: 1,
        instanceIdsRef: headIds,
        verdictNamespacePrefix: verdictNamespace(headArnPrefix),
        verdictMetricName: IDLE_METRIC.name,
        silentMinutes: config.idleAlarm.silentMinutes,
        lowCpuMinutes: config.idleAlarm.lowCpuMinutes,
        lowCpuThresholdPercent: headLowCpuThresholdPercent(cluster.headInstanceType, config.idleAlarm.lowCpuBusyVcpus),
      });
      new IdleStopRule(this, 'head-idle-stop-rule', {
        name: `${config.name}-head`,
        region: config.region,
        partition,
        account: accountId,
        instanceCount: 1,
        instanceIdsRef: headIds,
        alarmArnsRef: alarm.deadCheckAlarmArnsRef,
        // The head carries the cluster's tag and its own; the rule's role may stop nothing else.
        instanceTags: { ...ownTags(config), [clusterTag.key]: clusterTag.value, [headTag.key]: headTag.value },
      });
    }

    // ---------------------------------------------------------------- outputs
    const output = (id: string, value: string | number, description: string) => new TerraformOutput(this, id, { value, description });
    output('head_instance_id', head.instanceId, 'The head node: Slurm controller and login box (trainium-spot cluster ssh).');
    output('head_public_ip', head.publicIp, 'The head\'s public IP (no port is open: Session Manager).');
    output('head_private_ip', headIp, 'The head\'s private IP, fixed: slurmctld\'s address for the nodes (SlurmctldHost).');
    output('head_agent_association', headAgent.associationName, 'The State Manager association that installs the head\'s software.');
    output('launch_template_name', nodes.launchTemplateName, 'Slurm\'s resume program launches the compute nodes from this template.');
    output('max_nodes', cluster.nodes, 'The most compute nodes that can exist at once.');
    output('node_instance_type', cluster.instanceType, 'Compute node type.');
    output('node_market', cluster.market, 'Purchase market of the compute nodes.');
    output('shared_storage', storage.mountSource, 'Mounted at /shared on the head and every node.');
    output('munge_key_parameter', mungeKey.parameterName, 'SecureString that holds the munge key (written by the head).');
  }
}

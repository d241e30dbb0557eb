/**
 * Composes the constructs into one Terraform stack from one validated Config.
 * Data flows one way: config in, Terraform JSON out.
 */
import { Construct } from 'constructs';
import { Precondition, TerraformLocal, TerraformStack } from 'cdktf';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { IamServiceLinkedRole } from '@cdktf/provider-aws/lib/iam-service-linked-role';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { TlsProvider } from '@cdktf/provider-tls/lib/provider';
import { configureBackend } from './backend';
import {
  activateCommand, agentAssociationName, DATA_VOLUME, IDLE_METRIC, instanceArnPrefix, INSTANCE_TYPES, LOGIN_USER, OWN_TAG_KEYS,
  PRICE_SOURCE, QuotaMarket, verdictNamespace,
} from './catalog';
import { Config, DEFAULT_ROOT_VOLUME_SIZE_GIB, usesSpot, usesSpotRequests } from './config';
import { BoxAgent } from './constructs/box-agent';
import { BoxOutputs } from './constructs/box-outputs';
import { DataVolume } from './constructs/data-volume';
import { DeploymentId } from './constructs/deployment-id';
import { IdleAlarm } from './constructs/idle-alarm';
import { IdleStopRule } from './constructs/idle-stop-rule';
import { InstanceProfile } from './constructs/instance-profile';
import { InterruptionNotice } from './constructs/interruption-notice';
import { BoxCount, BoxList, LaunchSpec } from './constructs/launch-spec';
import { MachineImage } from './constructs/machine-image';
import { MarketDecision } from './constructs/market-decision';
import { Network } from './constructs/network';
import { InstanceMarket, OnDemandInstances } from './constructs/on-demand-instance';
import { QuotaGuard } from './constructs/quota-guard';
import { BoxSecurityGroup } from './constructs/security-group';
import { SpotInstances } from './constructs/spot-instance';
import { SshKey } from './constructs/ssh-key';
import { quotasDrawnOn } from './markets';
import { ownTags, projectTags } from './project-tags';
import { AgentDocument, LoginMessage, RenderedUserData, renderAgentDocument, renderUserData } from './userdata';

/** The stack's name: `cdktf synth` writes cdktf.out/stacks/trainium-spot/cdk.tf.json. */
export const STACK_NAME = 'trainium-spot';

export class TrainiumSpotStack extends TerraformStack {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id);
    const facts = INSTANCE_TYPES[config.instanceType];

    configureBackend(this, id, config.backend, config.region);
    // Provider default tags reach every resource but a spot request's instance, which is tagged below.
    // The tags that tell this stack's boxes from all others (the CLI and the stop rule find them by these).
    new AwsProvider(this, 'aws', { region: config.region, defaultTags: [{ tags: projectTags(config) }] });
    const partition = new DataAwsPartition(this, 'partition').partition;
    // The account the stack deploys into (no permission needed): the stop rule's runbook ARN, and the boxes' ARNs.
    const account = new DataAwsCallerIdentity(this, 'caller').accountId;
    // Every box's ARN is this and its instance id: each box publishes its verdict into a namespace of its own.
    const boxArnPrefix = instanceArnPrefix(partition, config.region, account);

    // ---------------------------------------------------------------- shared pieces of every box
    const network = new Network(this, 'network', {
      name: config.name,
      availabilityZoneId: config.availabilityZoneId,
      subnetId: config.subnetId,
    });
    const securityGroup = new BoxSecurityGroup(this, 'security-group', {
      name: config.name,
      vpcId: network.vpcId,
      sshCidrs: config.sshCidrs,
    });
    const publishVerdict = config.idle.enabled && config.idle.publishVerdict;
    const profile = new InstanceProfile(this, 'instance-profile', {
      name: config.name, partition, allowRequiringImdsv2: usesSpotRequests(config), publishVerdict,
    });
    if (config.sshPublicKey === undefined) new TlsProvider(this, 'tls');
    const sshKey = new SshKey(this, 'ssh-key', { name: config.name, publicKey: config.sshPublicKey });
    const image = new MachineImage(this, 'machine-image', {
      imageSetting: config.image,
      image: config.resolvedImage,
      rootVolumeSizeGiB: config.rootVolumeSizeGiB ?? DEFAULT_ROOT_VOLUME_SIZE_GIB,
      rootVolumeSizeExplicit: config.rootVolumeSizeExplicit,
    });
    const launch: LaunchSpec = {
      instanceType: config.instanceType,
      imageId: image.imageId,
      subnetId: network.subnetId,
      securityGroupIds: [securityGroup.securityGroupId],
      keyName: sshKey.keyName,
      instanceProfileName: profile.profileName,
      userData: boxUserData(config),
      rootVolumeSizeGiB: image.rootVolumeSizeGiB,
      rootVolumeSizeFollowsImage: !config.rootVolumeSizeExplicit,
      rootVolumeIops: config.rootVolumeIops,
      rootVolumeThroughputMiBps: config.rootVolumeThroughputMiBps,
      cpuCoreCount: config.cpuCoreCount,
      cpuThreadsPerCore: config.cpuThreadsPerCore,
    };

    // ---------------------------------------------------------------- plan-time guards
    const quotaGuard = new QuotaGuard(this, 'quota-guard', {
      region: config.region,
      instanceType: config.instanceType,
      instanceCount: config.instanceCount,
      vcpusPerInstance: facts.vcpus,
      quotas: quotasDrawnOn(config.market, facts.family),
    });
    const launchGuards: Precondition[] = image.rootVolumeGuard ? [image.rootVolumeGuard] : [];
    if (config.subnetId !== undefined) {
      const offered = facts.offeredIn[config.region];
      launchGuards.push({
        condition: `\${contains(${JSON.stringify(offered)}, ${network.availabilityZoneId})}`,
        errorMessage: `subnetId ${config.subnetId} is in AZ ID \${${network.availabilityZoneId}}, which does not ` +
          `offer ${config.instanceType}; AZ IDs in ${config.region} that do: ${offered.join(', ')}.`,
      });
    }
    launchGuards.push(...image.imageGuards);
    // ---------------------------------------------------------------- the boxes
    // Known only at apply, so a tag of the boxes alone, never a provider default tag.
    const deployment = new DeploymentId(this, 'deployment');
    // The tags only boxes carry. New ones go last: the spot request path tags its instances by position,
    // and a tag that moved would be a tag resource replaced.
    const boxTags = { [OWN_TAG_KEYS.name]: config.name, [OWN_TAG_KEYS.deployment]: deployment.id };
    const tags: BoxTags = { all: { ...projectTags(config), ...boxTags }, own: boxTags };
    const { boxes, market, spot } = this.launchBoxes(config, launch, tags, quotaGuard, launchGuards, network);
    const concat = (pick: (b: BoxList) => string) =>
      boxes.length === 1 ? pick(boxes[0]) : `\${concat(${boxes.map((b) => pick(b).slice(2, -1)).join(', ')})}`;
    const instanceIds = new TerraformLocal(this, 'instance-ids', concat((b) => b.instanceIds));
    const publicIps = new TerraformLocal(this, 'public-ips', concat((b) => b.publicIps));
    // One volume per box index, attached to whichever box holds that index: it outlives the boxes.
    const dataVolume = config.dataVolume && new DataVolume(this, 'data-volume', {
      name: config.name,
      region: config.region,
      count: config.instanceCount,
      ...config.dataVolume,
      availabilityZone: network.availabilityZone,
      availabilityZoneId: network.availabilityZoneId,
      instanceIdsRef: instanceIds.fqn,
    });

    // ---------------------------------------------------------------- what runs on the boxes
    new BoxAgent(this, 'agent', {
      name: config.name,
      document: boxAgentDocument(config),
      deploymentTag: { key: OWN_TAG_KEYS.deployment, value: deployment.id },
      publicKeyRef: sshKey.publicKeyRef,
      instanceArnPrefix: boxArnPrefix,
      dataVolumeIdsRef: dataVolume ? dataVolume.volumeIdsRef : undefined,
    });

    // ---------------------------------------------------------------- stopping and warnings
    if (config.idleAlarm.enabled) {
      const alarm = new IdleAlarm(this, 'idle-alarm', {
        name: config.name,
        region: config.region,
        partition,
        instanceCount: config.instanceCount,
        instanceIdsRef: instanceIds.fqn,
        verdictNamespacePrefix: verdictNamespace(boxArnPrefix),
        verdictMetricName: IDLE_METRIC.name,
        silentMinutes: config.idleAlarm.silentMinutes,
        lowCpuMinutes: config.idleAlarm.lowCpuMinutes,
        lowCpuThresholdPercent: lowCpuThresholdPercent(config.idleAlarm.lowCpuBusyVcpus, facts.vcpus),
      });
      new IdleStopRule(this, 'idle-stop-rule', {
        name: config.name,
        region: config.region,
        partition,
        account,
        instanceCount: config.instanceCount,
        instanceIdsRef: instanceIds.fqn,
        alarmArnsRef: alarm.deadCheckAlarmArnsRef,
        instanceTags: ownTags(config),
      });
    }
    const notice = spot && new InterruptionNotice(this, 'interruption-notice', {
      name: config.name, instanceIdsRef: instanceIds.fqn, email: config.notifyEmail,
    });
    if (config.createSpotServiceLinkedRole) {
      // Spot needs AWSServiceRoleForEC2Spot; AWS creates it on first use unless the caller may not
      // (AuthFailure.ServiceLinkedRoleCreationNotPermitted). Creating it fails where it exists.
      new IamServiceLinkedRole(this, 'spot-service-linked-role', { awsServiceName: 'spot.amazonaws.com' });
    }
    if (config.createCloudWatchServiceLinkedRole) {
      // An alarm's EC2 stop action runs as AWSServiceRoleForCloudWatchEvents, which CloudWatch creates
      // with the first such alarm only if the deploying identity may iam:CreateServiceLinkedRole.
      new IamServiceLinkedRole(this, 'cloudwatch-service-linked-role', { awsServiceName: 'events.amazonaws.com' });
    }

    // ---------------------------------------------------------------- outputs
    new BoxOutputs(this, 'outputs', {
      name: config.name,
      region: config.region,
      deploymentId: deployment.id,
      market,
      instanceIdsRef: instanceIds.fqn,
      publicIpsRef: publicIps.fqn,
      availabilityZones: concat((b) => b.availabilityZones),
      availabilityZoneId: network.availabilityZoneId,
      keyPairId: sshKey.keyPairId,
      keyName: sshKey.keyName,
      sshOpen: config.sshCidrs.length > 0,
      privateKeyParameterName: sshKey.privateKeyParameterName,
      spot: spot && notice && {
        requestIds: spot.requestIds,
        requestStatusCodes: spot.requestStatusCodes,
        maxPricePerHour: config.spotMaxPricePerHour ?? facts.onDemandPricePerHour,
        interruptionTopicArn: notice.topicArn,
      },
      instanceType: config.instanceType,
      onDemandPricePerHour: facts.onDemandPricePerHour,
      priceSource: PRICE_SOURCE,
      activateCommand: activateCommand(config.resolvedImage) ??
        `echo "${NO_ENVIRONMENT(imageLabel(config))}"`,
      dataVolumeIdsRef: dataVolume ? dataVolume.volumeIdsRef : undefined,
    });
  }

  /**
   * The instance resources of the chosen market. `auto` declares both a spot box and an on-demand
   * instance, and Terraform's plan-time decision gives exactly one of them a count.
   */
  private launchBoxes(config: Config, launch: LaunchSpec, tags: BoxTags,
    quotaGuard: QuotaGuard, launchGuards: Precondition[], network: Network): { boxes: BoxList[]; market: string; spot?: SpotBoxes } {
    const guardedBy = (market: QuotaMarket): Precondition[] => [quotaGuard.precondition(market), ...launchGuards];
    // Both launch paths share the construct id: switching spotLaunch replaces the box either way.
    const spotBoxes = (count: BoxCount, preconditions: Precondition[]): SpotBoxes => {
      if (config.spotLaunch === 'run-instances') {
        const boxes = new OnDemandInstances(this, 'spot', {
          launch, market: { kind: 'spot', maxPricePerHour: config.spotMaxPricePerHour }, count, instanceTags: tags.own, preconditions,
        });
        return { boxes, requestIds: boxes.spotRequestIds };
      }
      const requests = new SpotInstances(this, 'spot', {
        launch, maxPricePerHour: config.spotMaxPricePerHour, validDays: config.spotRequestValidDays, availabilityZone: network.availabilityZone,
        instanceTags: tags.all, count, preconditions,
      });
      return { boxes: requests, requestIds: requests.requestIds, requestStatusCodes: requests.requestStatusCodes };
    };

    switch (config.market) {
      case 'spot': {
        const spot = spotBoxes(config.instanceCount, guardedBy('spot'));
        return { boxes: [spot.boxes], market: config.market, spot };
      }
      case 'auto': {
        const decision = new MarketDecision(this, 'market-decision', {
          spot: quotaGuard.check('spot'),
          onDemand: quotaGuard.check('on-demand'),
          instanceCount: config.instanceCount,
        });
        const spot = spotBoxes(decision.spotCount, launchGuards);
        const onDemand = new OnDemandInstances(this, 'on-demand', {
          launch, market: { kind: 'on-demand' }, count: decision.onDemandCount, instanceTags: tags.own, preconditions: launchGuards,
        });
        return { boxes: [spot.boxes, onDemand], market: decision.market, spot };
      }
      default: {
        const preconditions = config.market === 'capacity-block' ? launchGuards : guardedBy('on-demand');
        const boxes = new OnDemandInstances(this, 'on-demand', {
          launch, market: instanceMarket(config), count: config.instanceCount, instanceTags: tags.own, preconditions,
        });
        return { boxes: [boxes], market: config.market };
      }
    }
  }
}

/**
 * CPUUtilization is the average over all vCPUs: `busyVcpus` busy vCPUs read as this percentage, rounded
 * down to 0.01 % (CloudWatch thresholds are plain numbers). 0.5 vCPU is 6.25 % of 8 vCPUs, 0.39 % of 128.
 */
export function lowCpuThresholdPercent(busyVcpus: number, vcpus: number): number {
  return Math.floor((busyVcpus * 10000) / vcpus) / 100;
}

/** What every box of this config runs at first boot, exactly as the box receives it. */
export function boxUserData(config: Config): RenderedUserData {
  // Only a box launched by RequestSpotInstances must require IMDSv2 on itself (RunInstances sets it at launch).
  return renderUserData({
    name: config.name, agentAssociationName: agentAssociationName(config.name), requireImdsv2OnBoot: usesSpotRequests(config),
  });
}

/** What State Manager installs and keeps on every box of this config. */
export function boxAgentDocument(config: Config): AgentDocument {
  // Spot boxes of either launch path watch for interruption notices.
  return renderAgentDocument({
    name: config.name, region: config.region, idle: config.idle, loginMessage: loginMessage(config),
    interruptionWatcher: usesSpot(config), loginUser: LOGIN_USER,
    dataVolume: config.dataVolume && { mountPoint: DATA_VOLUME.mountPoint, owner: LOGIN_USER },
  });
}

/** Where no environment is known: the base image, or an image named by parameter or id. */
const NO_ENVIRONMENT = (label: string) => `image ${label} names no environment; list them with: ls -d /opt/aws_neuronx_venv_*`;

/** The `image` setting, with the preset it resolved to where that differs. */
function imageLabel(config: Config): string {
  const image = config.resolvedImage;
  return image.kind === 'preset' && image.name !== config.image ? `${config.image} (${image.name})` : config.image;
}

function loginMessage(config: Config): LoginMessage {
  const image = config.resolvedImage;
  return {
    image: imageLabel(config),
    activate: activateCommand(image) ?? 'none known for this image',
    neuronSdk: image.kind === 'preset' ? image.preset.neuronSdk : 'unknown (not a preset)',
  };
}

/**
 * The boxes' tags: `all` of them for a spot request's instance, which no default tag reaches; `own`, the ones
 * beyond the provider's default tags, for RunInstances, which applies the default tags itself.
 */
interface BoxTags {
  readonly all: Readonly<Record<string, string>>;
  readonly own: Readonly<Record<string, string>>;
}

/** The spot boxes of either launch path, and what the outputs say about their requests. */
interface SpotBoxes {
  readonly boxes: BoxList;
  readonly requestIds: string;
  /** Only a spot request (`spotLaunch: "spot-request"`) reports a status code. */
  readonly requestStatusCodes?: string;
}

function instanceMarket(config: Config): InstanceMarket {
  switch (config.market) {
    case 'capacity-block':
      return { kind: 'capacity-block', capacityReservationId: config.capacityReservationId! };
    case 'capacity-reservation':
      return { kind: 'capacity-reservation', capacityReservationId: config.capacityReservationId };
    default:
      return { kind: 'on-demand' };
  }
}

/**
 * Composes the constructs into one Terraform stack from one validated Config.
 * Data flows one way: config in, Terraform JSON out.
 */
import { Construct } from 'constructs';
import { Precondition, TerraformLocal, TerraformOutput, TerraformStack } from 'cdktf';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { IamServiceLinkedRole } from '@cdktf/provider-aws/lib/iam-service-linked-role';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { TlsProvider } from '@cdktf/provider-tls/lib/provider';
import { configureBackend } from './backend';
import { INSTANCE_TYPES, PRICE_SOURCE, QuotaMarket, QuotaRef, QUOTAS } from './catalog';
import { Config, DEFAULT_ROOT_VOLUME_SIZE_GIB } from './config';
import { IdleAlarm } from './constructs/idle-alarm';
import { InstanceProfile } from './constructs/instance-profile';
import { InterruptionNotice } from './constructs/interruption-notice';
import { BoxList, LaunchSpec } from './constructs/launch-spec';
import { MachineImage } from './constructs/machine-image';
import { MarketDecision } from './constructs/market-decision';
import { Network } from './constructs/network';
import { InstanceMarket, OnDemandInstances } from './constructs/on-demand-instance';
import { QuotaGuard } from './constructs/quota-guard';
import { BoxSecurityGroup } from './constructs/security-group';
import { SpotInstances } from './constructs/spot-instance';
import { SshKey } from './constructs/ssh-key';
import { renderUserData } from './userdata';

/** The stack's name: `cdktf synth` writes cdktf.out/stacks/trainium-spot/cdk.tf.json. */
export const STACK_NAME = 'trainium-spot';

/** The login user of the Ubuntu-based AMIs. */
const LOGIN_USER = 'ubuntu';

export class TrainiumSpotStack extends TerraformStack {
  constructor(scope: Construct, id: string, config: Config) {
    super(scope, id);
    const facts = INSTANCE_TYPES[config.instanceType];

    configureBackend(this, id, config.backend);
    new AwsProvider(this, 'aws', {
      region: config.region,
      defaultTags: [{ tags: { Project: config.name, ManagedBy: 'trainium-spot', ...config.tags } }],
    });
    const partition = new DataAwsPartition(this, 'partition').partition;

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
    const profile = new InstanceProfile(this, 'instance-profile', { name: config.name, partition });
    if (config.sshPublicKey === undefined) new TlsProvider(this, 'tls');
    const sshKey = new SshKey(this, 'ssh-key', { name: config.name, publicKey: config.sshPublicKey });
    const image = new MachineImage(this, 'machine-image', {
      ssmParameter: config.amiSsmParameter,
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
      userData: renderUserData({ name: config.name, idle: config.idle }),
      rootVolumeSizeGiB: image.rootVolumeSizeGiB,
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
      quotas: quotasToRead(config, QUOTAS[facts.family]),
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
    const guardedBy = (market: QuotaMarket): Precondition[] => {
      const check = quotaGuard.check(market);
      return [{ condition: check.condition, errorMessage: check.errorMessage }, ...launchGuards];
    };

    // ---------------------------------------------------------------- the boxes
    const instanceTags = { Name: config.name, ...config.tags };
    const spotProps = {
      launch,
      maxPricePerHour: config.spotMaxPricePerHour,
      validDays: config.spotRequestValidDays,
      instanceTags,
    };
    let boxes: BoxList[];
    let marketExpression: string = config.market;
    let spotRequestIds: string | undefined;

    if (config.market === 'spot') {
      const spot = new SpotInstances(this, 'spot', { ...spotProps, count: config.instanceCount, preconditions: guardedBy('spot') });
      boxes = [spot];
      spotRequestIds = spot.requestIds;
    } else if (config.market === 'auto') {
      const decision = new MarketDecision(this, 'market-decision', {
        spot: quotaGuard.check('spot'),
        onDemand: quotaGuard.check('on-demand'),
        instanceCount: config.instanceCount,
      });
      const spot = new SpotInstances(this, 'spot', { ...spotProps, count: decision.spotCount, preconditions: launchGuards });
      const onDemand = new OnDemandInstances(this, 'on-demand', {
        launch, market: { kind: 'on-demand' }, count: decision.onDemandCount, instanceTags, preconditions: launchGuards,
      });
      boxes = [spot, onDemand];
      spotRequestIds = spot.requestIds;
      marketExpression = decision.market;
    } else {
      const market = instanceMarket(config);
      const preconditions = config.market === 'capacity-block' ? launchGuards : guardedBy('on-demand');
      boxes = [new OnDemandInstances(this, 'on-demand', {
        launch, market, count: config.instanceCount, instanceTags, preconditions,
      })];
    }

    const concat = (pick: (b: BoxList) => string) =>
      boxes.length === 1 ? pick(boxes[0]) : `\${concat(${boxes.map((b) => pick(b).slice(2, -1)).join(', ')})}`;
    const instanceIds = new TerraformLocal(this, 'instance-ids', concat((b) => b.instanceIds));
    const publicIps = new TerraformLocal(this, 'public-ips', concat((b) => b.publicIps));
    const availabilityZones = concat((b) => b.availabilityZones);

    // ---------------------------------------------------------------- stopping and warnings
    if (config.idleAlarm.enabled) {
      new IdleAlarm(this, 'idle-alarm', {
        name: config.name,
        region: config.region,
        partition,
        instanceCount: config.instanceCount,
        instanceIdsRef: instanceIds.fqn,
        thresholdPercent: config.idleAlarm.thresholdPercent,
        periodSeconds: config.idleAlarm.periodSeconds,
        evaluationPeriods: config.idleAlarm.evaluationPeriods,
      });
    }
    const usesSpot = config.market === 'spot' || config.market === 'auto';
    const notice = usesSpot
      ? new InterruptionNotice(this, 'interruption-notice', {
        name: config.name, instanceIdsRef: instanceIds.fqn, email: config.notifyEmail,
      })
      : undefined;
    if (config.createSpotServiceLinkedRole) {
      // Spot needs AWSServiceRoleForEC2Spot; AWS creates it on first use unless the caller may not
      // (AuthFailure.ServiceLinkedRoleCreationNotPermitted). Creating it fails where it exists.
      new IamServiceLinkedRole(this, 'spot-service-linked-role', { awsServiceName: 'spot.amazonaws.com' });
    }

    // ---------------------------------------------------------------- outputs
    const output = (id: string, value: unknown, description: string) =>
      new TerraformOutput(this, id, { value, description });
    const first = (ref: string) => `\${try(${ref}[0], null)}`;
    const region = config.region;

    output('market', marketExpression, 'Purchase market of the boxes: spot, on-demand, capacity-block or capacity-reservation');
    output('instance_ids', `\${${instanceIds.fqn}}`, 'EC2 instance ids, one per box');
    output('instance_id', first(instanceIds.fqn), 'EC2 instance id of the first box');
    output('public_ips', `\${${publicIps.fqn}}`, 'Public IPv4 addresses (they change when a box stops and starts)');
    output('public_ip', first(publicIps.fqn), 'Public IPv4 address of the first box');
    output('availability_zones', availabilityZones, 'Availability Zones of the boxes');
    output('availability_zone_id', network.availabilityZoneId, 'AZ ID of the subnet');
    if (spotRequestIds !== undefined) output('spot_request_ids', spotRequestIds, 'Persistent spot request ids');
    output('key_pair_id', sshKey.keyPairId, 'EC2 key pair id');
    output('key_name', sshKey.keyName, 'EC2 key pair name');
    if (notice) output('interruption_topic_arn', notice.topicArn, 'SNS topic with spot interruption and rebalance notices');

    const keyFile = `~/.ssh/${config.name}.pem`;
    if (sshKey.privateKeyParameterName !== undefined) {
      output('private_key_parameter', sshKey.privateKeyParameterName, 'SSM SecureString parameter with the private key');
      output('fetch_key_command',
        `aws ssm get-parameter --name ${sshKey.privateKeyParameterName} --with-decryption --query Parameter.Value ` +
        `--output text --region ${region} > ${keyFile} && chmod 400 ${keyFile}`,
        'Saves the generated private key');
    }
    output('ssh_command', `ssh -i ${keyFile} ${LOGIN_USER}@${first(publicIps.fqn)}`, 'SSH to the first box');
    output('ssm_command', `aws ssm start-session --target ${first(instanceIds.fqn)} --region ${region}`,
      'Session Manager shell on the first box, no SSH or open port needed');
    output('start_command', `aws ec2 start-instances --instance-ids ${first(instanceIds.fqn)} --region ${region}`,
      'Starts the first box after it stopped itself');
    output('on_demand_price_per_hour', facts.onDemandPricePerHour, `On-demand USD per hour of one ${config.instanceType}: ${PRICE_SOURCE}`);
    if (usesSpot) {
      output('spot_max_price_per_hour', config.spotMaxPricePerHour ?? facts.onDemandPricePerHour,
        'Most a spot box may cost per hour (the on-demand price unless spotMaxPricePerHour is set)');
    }
  }
}

/** Which quotas the chosen market draws on. */
function quotasToRead(config: Config, family: Readonly<Record<QuotaMarket, QuotaRef>>): Partial<Record<QuotaMarket, QuotaRef>> {
  switch (config.market) {
    case 'spot':
      return { spot: family.spot };
    case 'auto':
      return { spot: family.spot, 'on-demand': family['on-demand'] };
    case 'capacity-block':
      // The block's capacity is already bought. Whether its instances also count against the
      // on-demand vCPU quota is unverified, so no plan-time guard claims either way.
      return {};
    default:
      return { 'on-demand': family['on-demand'] };
  }
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

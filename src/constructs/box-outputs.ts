import { Construct } from 'constructs';
import { TerraformOutput } from 'cdktf';
import { DEPLOYMENT_ID_OUTPUT, DEPLOYMENT_TAG_KEY, keyFileName, LOGIN_USER, sessionManagerProxyCommand } from '../catalog';
import type { BoxList } from './launch-spec';

export interface BoxOutputsProps {
  readonly name: string;
  readonly region: string;
  /** The deployment's id (a reference resolved at apply), which its boxes carry as a tag. */
  readonly deploymentId: string;
  /** `spot`, `on-demand`, ... or, for `auto`, the plan-time decision. */
  readonly market: string;
  /** References (no `${}`) to the lists of instance ids and public IPs, one element per box. */
  readonly instanceIdsRef: string;
  readonly publicIpsRef: string;
  readonly availabilityZones: BoxList['availabilityZones'];
  readonly availabilityZoneId: string;
  readonly keyPairId: string;
  readonly keyName: string;
  /**
   * Whether port 22 is open to some network (sshCidrs), so that ssh can go to the public IP.
   * @default false - ssh goes through Session Manager, to the instance id
   */
  readonly sshOpen?: boolean;
  /** @default - an imported key: no parameter, no fetch command */
  readonly privateKeyParameterName?: string;
  /** @default - not a spot market: no spot outputs */
  readonly spot?: {
    readonly requestIds: string;
    /** @default - launched by RunInstances: no request status output */
    readonly requestStatusCodes?: string;
    readonly maxPricePerHour: number;
    readonly interruptionTopicArn: string;
  };
  readonly instanceType: string;
  readonly onDemandPricePerHour: number;
  readonly priceSource: string;
  /** The shell command that activates the machine image's environment (the login message names it too). */
  readonly activateCommand: string;
  /**
   * Reference (no `${}`) to the list of the data volumes' ids, by box index.
   * @default - no data volume: no `data_volume_ids` output
   */
  readonly dataVolumeIdsRef?: string;
}

/**
 * What users script against, the same in every market: ids, addresses, and ready-to-paste commands.
 * Output names are a public interface (`terraform output -raw instance_id`), so they are static.
 */
export class BoxOutputs extends Construct {
  constructor(scope: Construct, id: string, props: BoxOutputsProps) {
    super(scope, id);
    const output = (name: string, value: unknown, description: string) =>
      new TerraformOutput(this, name, { value, description, staticId: true });
    const first = (ref: string) => `\${try(${ref}[0], null)}`;
    // Inside a command, null would fail the whole plan when there is no box (`auto` with neither quota,
    // where the plan must fail on its own guard alone): the command is then left incomplete instead.
    const firstInText = (ref: string) => `\${try(${ref}[0], "")}`;
    const region = props.region;

    output(DEPLOYMENT_ID_OUTPUT, props.deploymentId,
      `This deployment's id, generated at its first apply and kept; its boxes carry it as the ${DEPLOYMENT_TAG_KEY} tag, ` +
      'and trainium-spot --deployment takes it where two deployments share a name');
    output('market', props.market, 'Purchase market of the boxes: spot, on-demand, capacity-block or capacity-reservation');
    output('instance_ids', `\${${props.instanceIdsRef}}`, 'EC2 instance ids, one per box');
    output('instance_id', first(props.instanceIdsRef), 'EC2 instance id of the first box');
    output('public_ips', `\${${props.publicIpsRef}}`, 'Public IPv4 addresses (they change when a box stops and starts)');
    output('public_ip', first(props.publicIpsRef), 'Public IPv4 address of the first box');
    output('availability_zones', props.availabilityZones, 'Availability Zones of the boxes');
    output('availability_zone_id', props.availabilityZoneId, 'AZ ID of the subnet');
    output('key_pair_id', props.keyPairId, 'EC2 key pair id');
    output('key_name', props.keyName, 'EC2 key pair name');

    // The same file `trainium-spot ssh` keeps the key in. The fetch writes a temporary file with
    // mode 0600 (umask) and renames it: a second run replaces the key, never leaves half of one.
    const generated = props.privateKeyParameterName !== undefined;
    const keyFile = `~/.ssh/${keyFileName(props.name, props.keyPairId)}`;
    if (generated) {
      output('private_key_parameter', props.privateKeyParameterName, 'SSM SecureString parameter with the private key');
      output('fetch_key_command',
        `mkdir -p ~/.ssh && (umask 077 && aws ssm get-parameter --name ${props.privateKeyParameterName} --with-decryption ` +
        `--query Parameter.Value --output text --region ${region} > ${keyFile}.tmp) && mv -f ${keyFile}.tmp ${keyFile}`,
        'Saves the generated private key (mode 0600); safe to run again');
    }
    const identity = generated ? `-i ${keyFile} ` : '';
    output('ssh_command', props.sshOpen
      ? `ssh ${identity}${LOGIN_USER}@${firstInText(props.publicIpsRef)}`
      : `ssh ${identity}-o ProxyCommand='${sessionManagerProxyCommand(region)}' ${LOGIN_USER}@${firstInText(props.instanceIdsRef)}`,
    `SSH to the first box${props.sshOpen ? '' : ' through Session Manager (no open port)'}${generated ? '' : ', with your own key'}; ` +
    'or: npx trainium-spot ssh');
    output('ssm_command', `aws ssm start-session --target ${firstInText(props.instanceIdsRef)} --region ${region}`,
      'Session Manager shell on the first box, no SSH or open port needed');
    output('start_command', `aws ec2 start-instances --instance-ids ${firstInText(props.instanceIdsRef)} --region ${region}`,
      'Starts the first box after it stopped itself');
    output('activate_command', props.activateCommand,
      'Activates the environment of the machine image on the box (the login message says the same)');
    output('on_demand_price_per_hour', props.onDemandPricePerHour,
      `On-demand USD per hour of one ${props.instanceType}: ${props.priceSource}`);

    if (props.dataVolumeIdsRef !== undefined) {
      output('data_volume_ids', `\${${props.dataVolumeIdsRef}}`, 'EBS volume ids of the data volumes, one per box (dataVolume)');
    }
    if (props.spot) {
      output('spot_request_ids', props.spot.requestIds, 'Persistent spot request ids');
      if (props.spot.requestStatusCodes !== undefined) {
        output('spot_request_status_codes', props.spot.requestStatusCodes,
          'EC2 status code of each spot request at the last refresh: fulfilled, capacity-not-available, price-too-low, ...');
      }
      output('spot_max_price_per_hour', props.spot.maxPricePerHour,
        'Most a spot box may cost per hour (the on-demand price unless spotMaxPricePerHour is set)');
      output('interruption_topic_arn', props.spot.interruptionTopicArn, 'SNS topic with spot interruption and rebalance notices');
    }
  }
}

import { Construct } from 'constructs';
import { TerraformOutput } from 'cdktf';
import type { BoxList } from './launch-spec';

export interface BoxOutputsProps {
  readonly name: string;
  readonly region: string;
  /** `spot`, `on-demand`, ... or, for `auto`, the plan-time decision. */
  readonly market: string;
  /** References (no `${}`) to the lists of instance ids and public IPs, one element per box. */
  readonly instanceIdsRef: string;
  readonly publicIpsRef: string;
  readonly availabilityZones: BoxList['availabilityZones'];
  readonly availabilityZoneId: string;
  readonly keyPairId: string;
  readonly keyName: string;
  /** @default - an imported key: no parameter, no fetch command */
  readonly privateKeyParameterName?: string;
  /** @default - not a spot market: no spot outputs */
  readonly spot?: { readonly requestIds: string; readonly maxPricePerHour: number; readonly interruptionTopicArn: string };
  readonly instanceType: string;
  readonly onDemandPricePerHour: number;
  readonly priceSource: string;
}

/** The login user of the Ubuntu-based AMIs. */
const LOGIN_USER = 'ubuntu';

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

    output('market', props.market, 'Purchase market of the boxes: spot, on-demand, capacity-block or capacity-reservation');
    output('instance_ids', `\${${props.instanceIdsRef}}`, 'EC2 instance ids, one per box');
    output('instance_id', first(props.instanceIdsRef), 'EC2 instance id of the first box');
    output('public_ips', `\${${props.publicIpsRef}}`, 'Public IPv4 addresses (they change when a box stops and starts)');
    output('public_ip', first(props.publicIpsRef), 'Public IPv4 address of the first box');
    output('availability_zones', props.availabilityZones, 'Availability Zones of the boxes');
    output('availability_zone_id', props.availabilityZoneId, 'AZ ID of the subnet');
    output('key_pair_id', props.keyPairId, 'EC2 key pair id');
    output('key_name', props.keyName, 'EC2 key pair name');

    const keyFile = `~/.ssh/${props.name}.pem`;
    if (props.privateKeyParameterName !== undefined) {
      output('private_key_parameter', props.privateKeyParameterName, 'SSM SecureString parameter with the private key');
      output('fetch_key_command',
        `aws ssm get-parameter --name ${props.privateKeyParameterName} --with-decryption --query Parameter.Value ` +
        `--output text --region ${region} > ${keyFile} && chmod 400 ${keyFile}`,
        'Saves the generated private key');
    }
    output('ssh_command', `ssh -i ${keyFile} ${LOGIN_USER}@${firstInText(props.publicIpsRef)}`, 'SSH to the first box');
    output('ssm_command', `aws ssm start-session --target ${firstInText(props.instanceIdsRef)} --region ${region}`,
      'Session Manager shell on the first box, no SSH or open port needed');
    output('start_command', `aws ec2 start-instances --instance-ids ${firstInText(props.instanceIdsRef)} --region ${region}`,
      'Starts the first box after it stopped itself');
    output('on_demand_price_per_hour', props.onDemandPricePerHour,
      `On-demand USD per hour of one ${props.instanceType}: ${props.priceSource}`);

    if (props.spot) {
      output('spot_request_ids', props.spot.requestIds, 'Persistent spot request ids');
      output('spot_max_price_per_hour', props.spot.maxPricePerHour,
        'Most a spot box may cost per hour (the on-demand price unless spotMaxPricePerHour is set)');
      output('interruption_topic_arn', props.spot.interruptionTopicArn, 'SNS topic with spot interruption and rebalance notices');
    }
  }
}

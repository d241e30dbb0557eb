import { Construct } from 'constructs';
import { DataResource, Precondition, TerraformLocal } from 'cdktf';
import { DataAwsAmi } from '@cdktf/provider-aws/lib/data-aws-ami';
import { DataAwsSsmParameter } from '@cdktf/provider-aws/lib/data-aws-ssm-parameter';

export interface MachineImageProps {
  /** Public SSM parameter that names the current AMI id. */
  readonly ssmParameter: string;
  /** The root volume size the user asked for, or the default floor. */
  readonly rootVolumeSizeGiB: number;
  /**
   * Whether the user chose the size. A chosen size is used as given (and a plan-time guard fails if
   * it is smaller than the AMI); a default size grows to the AMI's snapshot size.
   */
  readonly rootVolumeSizeExplicit: boolean;
}

/**
 * The AMI and the root volume size that fits it, both resolved at plan time: the AMI id from the
 * public SSM parameter, its root snapshot size from `aws_ami`.
 */
export class MachineImage extends Construct {
  readonly imageId: string;
  /** The root volume size to launch with, in GiB (a plan-time value when it follows the AMI). */
  readonly rootVolumeSizeGiB: number;
  /** The plan-time guard that a chosen root volume holds the AMI (a default size always does). */
  readonly rootVolumeGuard?: Precondition;

  constructor(scope: Construct, id: string, props: MachineImageProps) {
    super(scope, id);

    const parameter = new DataAwsSsmParameter(this, 'image-id', { name: props.ssmParameter });
    // insecure_value: an AMI id is public, and a sensitive value would taint every output using it.
    this.imageId = parameter.insecureValue;
    const image = new DataAwsAmi(this, 'image', {
      filter: [{ name: 'image-id', values: [this.imageId] }],
    });

    // Total: 0 when the AMI has no mapping for its root device, or one without a size (an empty
    // list gives max() only the 0; `one([])` would be null, and max(50, null) fails the plan).
    const snapshot = new TerraformLocal(this, 'root-snapshot-size-gib',
      `\${try(max(0, [for m in ${image.fqn}.block_device_mappings : tonumber(lookup(m.ebs, "volume_size", "0")) ` +
      `if m.device_name == ${image.fqn}.root_device_name]...), 0)}`);

    if (!props.rootVolumeSizeExplicit) {
      this.rootVolumeSizeGiB = new TerraformLocal(this, 'root-volume-size-gib',
        `\${max(${props.rootVolumeSizeGiB}, ${snapshot.fqn})}`).asNumber;
      return;
    }
    this.rootVolumeSizeGiB = props.rootVolumeSizeGiB;
    // The guard compares with the snapshot of the AMI at creation, kept like valid_until: a newer,
    // larger AMI must not fail every later plan of a box that already runs on the older one.
    const atCreation = new DataResource(this, 'root-snapshot-at-creation', {
      input: { size_gib: snapshot.asNumber },
      lifecycle: { ignoreChanges: ['input'] },
    });
    // `input`, not `output`: it is known at the first plan, so a too-small size fails that plan.
    const snapshotAtCreation = `${atCreation.fqn}.input.size_gib`;
    this.rootVolumeGuard = {
      condition: `\${${props.rootVolumeSizeGiB} >= ${snapshotAtCreation}}`,
      errorMessage:
        `rootVolumeSizeGiB is ${props.rootVolumeSizeGiB} GiB, but the AMI from ${props.ssmParameter} ` +
        `(\${${image.fqn}.id}) has a \${${snapshotAtCreation}} GiB root snapshot. Set rootVolumeSizeGiB to at least ` +
        `\${${snapshotAtCreation}}, or leave it out to size the volume to the AMI automatically.`,
    };
  }
}

import { Construct } from 'constructs';
import { DataResource, Precondition, TerraformLocal } from 'cdktf';
import { DataAwsAmi } from '@cdktf/provider-aws/lib/data-aws-ami';
import { DataAwsSsmParameter } from '@cdktf/provider-aws/lib/data-aws-ssm-parameter';
import { IMAGE_ARCHITECTURE, IMAGE_PRESET_NAMES, ImageChoice } from '../catalog';

export interface MachineImageProps {
  /** The `image` config value, as the user wrote it; named in plan-time messages. */
  readonly imageSetting: string;
  /** The image it resolves to: a preset of the catalog, an SSM parameter or an AMI id. */
  readonly image: ImageChoice;
  /** The root volume size the user asked for, or the default floor. */
  readonly rootVolumeSizeGiB: number;
  /**
   * Whether the user chose the size. A chosen size is used as given (and a plan-time guard fails if
   * it is smaller than the AMI); a default size grows to the AMI's snapshot size.
   */
  readonly rootVolumeSizeExplicit: boolean;
}

const HOW_TO_CHOOSE = `Choose another with the config key image: a preset (${IMAGE_PRESET_NAMES.join(', ')}), ` +
  'ssm:<parameter path> or an ami-... id; `npx trainium-spot image` shows what each resolves to.';

/**
 * The AMI and the root volume size that fits it, both resolved at plan time: the AMI id from a
 * public SSM parameter (or, where AWS publishes none, the newest Amazon AMI with the preset's name),
 * its architecture, name and root snapshot size from `aws_ami`. Guards fail the plan when the image
 * is not x86_64 or not the image the preset names.
 */
export class MachineImage extends Construct {
  readonly imageId: string;
  /** The root volume size to launch with, in GiB (a plan-time value when it follows the AMI). */
  readonly rootVolumeSizeGiB: number;
  /** The plan-time guard that a chosen root volume holds the AMI (a default size always does). */
  readonly rootVolumeGuard?: Precondition;
  /** Plan-time guards that the image is x86_64 and, for a preset, named as the preset expects. */
  readonly imageGuards: Precondition[];

  constructor(scope: Construct, id: string, props: MachineImageProps) {
    super(scope, id);
    const { image, where } = this.lookUp(props.image);
    this.imageId = image.imageId;
    const ami = image.data;

    const found = `\${${ami.fqn}.id} "\${${ami.fqn}.name}" (\${${ami.fqn}.architecture})`;
    const chosen = `image "${props.imageSetting}"`;
    this.imageGuards = [{
      condition: `\${${ami.fqn}.architecture == "${IMAGE_ARCHITECTURE}"}`,
      errorMessage: `${chosen} resolved to ${found} from ${where}, but the supported instance types need an ` +
        `${IMAGE_ARCHITECTURE} image. ${HOW_TO_CHOOSE}`,
    }];
    if (props.image.kind === 'preset') {
      const prefix = props.image.preset.amiNamePrefix;
      this.imageGuards.push({
        condition: `\${startswith(${ami.fqn}.name, ${JSON.stringify(prefix)})}`,
        errorMessage: `${chosen} resolved to ${found} from ${where}, but preset ${props.image.name} expects an ` +
          `image named "${prefix} ...". ${HOW_TO_CHOOSE}`,
      });
    }

    // Total: 0 when the AMI has no mapping for its root device, or one without a size (an empty
    // list gives max() only the 0; `one([])` would be null, and max(50, null) fails the plan).
    const snapshot = new TerraformLocal(this, 'root-snapshot-size-gib',
      `\${try(max(0, [for m in ${ami.fqn}.block_device_mappings : tonumber(lookup(m.ebs, "volume_size", "0")) ` +
      `if m.device_name == ${ami.fqn}.root_device_name]...), 0)}`);

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
        `rootVolumeSizeGiB is ${props.rootVolumeSizeGiB} GiB, but the AMI from ${where} ` +
        `(\${${ami.fqn}.id}) has a \${${snapshotAtCreation}} GiB root snapshot. Set rootVolumeSizeGiB to at least ` +
        `\${${snapshotAtCreation}}, or leave it out to size the volume to the AMI automatically.`,
    };
  }

  /** The data sources that find the image, and where it came from in words. */
  private lookUp(choice: ImageChoice): { image: { data: DataAwsAmi; imageId: string }; where: string } {
    if (choice.kind === 'ami') {
      const data = new DataAwsAmi(this, 'image', { filter: [{ name: 'image-id', values: [choice.amiId] }] });
      return { image: { data, imageId: choice.amiId }, where: 'the config' };
    }
    if (choice.kind === 'preset' && choice.preset.ssmParameter === undefined) {
      // AWS publishes no parameter for this preset: the newest image Amazon owns with its name.
      const pattern = `${choice.preset.amiNamePrefix} *`;
      const data = new DataAwsAmi(this, 'image', {
        mostRecent: true,
        owners: ['amazon'],
        filter: [{ name: 'name', values: [pattern] }, { name: 'state', values: ['available'] }],
      });
      return { image: { data, imageId: data.id }, where: `the newest Amazon AMI named "${pattern}"` };
    }
    // Set for every other preset (checked just above), and for ssm: images by definition.
    const parameter = choice.kind === 'ssm' ? choice.ssmParameter : choice.preset.ssmParameter!;
    // insecure_value: an AMI id is public, and a sensitive value would taint every output using it.
    const imageId = new DataAwsSsmParameter(this, 'image-id', { name: parameter }).insecureValue;
    const data = new DataAwsAmi(this, 'image', { filter: [{ name: 'image-id', values: [imageId] }] });
    return { image: { data, imageId }, where: parameter };
  }
}

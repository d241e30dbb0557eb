import { Construct } from 'constructs';
import { DataResource, TerraformLocal } from 'cdktf';
import { EbsVolume } from '@cdktf/provider-aws/lib/ebs-volume';
import { VolumeAttachment } from '@cdktf/provider-aws/lib/volume-attachment';
import { DATA_VOLUME } from '../catalog';

export interface DataVolumeProps {
  /** Prefix of the volumes' Name tags (`<name>-data-0`, ...), which their final snapshots carry too. */
  readonly name: string;
  readonly region: string;
  /** How many volumes: one per box index, whichever market the box at that index is in. */
  readonly count: number;
  readonly sizeGiB: number;
  readonly iops: number;
  readonly throughputMiBps: number;
  /**
   * Create the volumes from this snapshot.
   * @default - blank volumes, which the agent formats
   */
  readonly snapshotId?: string;
  /** The Availability Zone (name) of the boxes' subnet: a volume attaches only to an instance in its own AZ. */
  readonly availabilityZone: string;
  /** The AZ ID of the boxes' subnet, known at plan time: the guard compares it with the volumes'. */
  readonly availabilityZoneId: string;
  /** Reference (no `${}`) to the list of instance ids, one per box index, of whichever market launched them. */
  readonly instanceIdsRef: string;
}

/**
 * One encrypted gp3 volume per box that outlives the box: an instance type, CPU options, launch path or
 * `auto` market that replaces the box leaves the volume alone, and only its attachment follows the new box
 * (`instance_id` forces a new attachment; nothing about the box reaches the volume). The agent mounts it
 * (src/userdata/data-volume.sh).
 *
 * - Deleting a volume (`cdktf destroy`, a smaller `instanceCount`, a new `snapshotId`) first snapshots it
 *   (`final_snapshot`, which copies the volume's tags to the snapshot), so no deploy loses its data for good.
 *   No `prevent_destroy`: it would fail `cdktf destroy` itself.
 * - An attachment is removed by stopping its box first (`stop_instance_before_detaching`): the box is on its
 *   way out, and a clean shutdown unmounts the filesystem, where detaching a mounted volume can leave it
 *   "stuck in the busy state" (EC2 API Reference, DetachVolume,
 *   https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DetachVolume.html, checked 2026-12-07).
 * - A volume cannot leave its Availability Zone, and a new AZ would replace it (`availability_zone` forces a
 *   new volume). The AZ ID the volumes were created in is kept in state (`terraform_data`, its input
 *   ignored after creation) and compared with the boxes' at plan time: a move fails the plan, with how to
 *   move the data, before anything is destroyed. A new `snapshotId` is that way: it replaces the record too.
 *
 * Sources (AWS provider 6.25.0, the version @cdktf/provider-aws 21.22.1 is generated from, checked 2026-12-07):
 * https://registry.terraform.io/providers/hashicorp/aws/6.25.0/docs/resources/ebs_volume#final_snapshot ("If true,
 * snapshot will be created before volume deletion. Any tags on the volume will be migrated to the snapshot.") and
 * https://registry.terraform.io/providers/hashicorp/aws/6.25.0/docs/resources/volume_attachment#stop_instance_before_detaching.
 */
export class DataVolume extends Construct {
  /** Reference (no `${}`) to the list of volume ids, by box index. */
  readonly volumeIdsRef: string;

  constructor(scope: Construct, id: string, props: DataVolumeProps) {
    super(scope, id);
    const zoneId = new TerraformLocal(this, 'availability-zone-id', props.availabilityZoneId);
    // Where the volumes are: the AZ ID at creation, replaced only with the volumes' source snapshot.
    const zone = new DataResource(this, 'zone', {
      input: { availabilityZoneId: zoneId.asString },
      triggersReplace: { snapshotId: props.snapshotId ?? '' },
      lifecycle: { ignoreChanges: ['input'] },
    });
    const created = `${zone.fqn}.output.availabilityZoneId`;

    const volume = new EbsVolume(this, 'volume', {
      count: props.count,
      availabilityZone: props.availabilityZone,
      type: 'gp3',
      size: props.sizeGiB,
      iops: props.iops,
      throughput: props.throughputMiBps,
      encrypted: true,
      ...(props.snapshotId !== undefined ? { snapshotId: props.snapshotId } : {}),
      finalSnapshot: true,
      tags: { Name: `${props.name}-data-\${count.index}` },
      timeouts: { delete: DATA_VOLUME.finalSnapshotTimeout },
      lifecycle: {
        precondition: [{
          condition: `\${${created} == ${zoneId.fqn}}`,
          errorMessage: `dataVolume: the boxes would move from AZ ID \${${created}} to \${${zoneId.fqn}}, and an EBS volume ` +
            'cannot leave its Availability Zone. To move the data, snapshot each volume (aws ec2 create-snapshot ' +
            `--region ${props.region} --volume-id <id>; the ids: terraform output data_volume_ids), then plan again with ` +
            `dataVolume.snapshotId set to the snapshot: the new volumes in \${${zoneId.fqn}} start from it. To keep the ` +
            `data, keep AZ ID \${${created}}.`,
        }],
      },
    });

    new VolumeAttachment(this, 'attachment', {
      count: props.count,
      deviceName: DATA_VOLUME.deviceName,
      volumeId: `\${${volume.fqn}[count.index].id}`,
      instanceId: `\${${props.instanceIdsRef}[count.index]}`,
      stopInstanceBeforeDetaching: true,
    });

    this.volumeIdsRef = `${volume.fqn}[*].id`;
  }
}

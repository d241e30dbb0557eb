import { Testing } from 'cdktf';
import { EbsVolume } from '@cdktf/provider-aws/lib/ebs-volume';
import { VolumeAttachment } from '@cdktf/provider-aws/lib/volume-attachment';
import { DataVolume, DataVolumeProps } from '../../src/constructs/data-volume';
import { onlyBlock } from '../support/synth';

const props: DataVolumeProps = {
  name: 'box', region: 'us-east-2', count: 2, sizeGiB: 500, iops: 4000, throughputMiBps: 250,
  availabilityZone: '${aws_subnet.public.availability_zone}', availabilityZoneId: 'use2-az3', instanceIdsRef: 'local.instance-ids',
};

function synth(overrides: Partial<DataVolumeProps> = {}) {
  const text = Testing.synthScope((scope) => { new DataVolume(scope, 'data-volume', { ...props, ...overrides }); });
  return { text, json: JSON.parse(text) };
}

describe('DataVolume', () => {
  test('GIVEN two boxes THEN two encrypted gp3 volumes in the boxes\' AZ, as asked for, that leave a snapshot when deleted', () => {
    // WHEN
    const { text } = synth();
    // THEN
    expect(text).toHaveResourceWithProperties(EbsVolume, {
      count: 2,
      availability_zone: '${aws_subnet.public.availability_zone}',
      type: 'gp3',
      size: 500,
      iops: 4000,
      throughput: 250,
      encrypted: true,
      final_snapshot: true,
      tags: { Name: 'box-data-${count.index}' },
      // The final snapshot of a volume that was never snapshotted copies every block written: hours, not minutes.
      timeouts: { delete: '6h' },
    });
  });

  test('nothing keeps cdktf destroy from deleting a volume (no prevent_destroy): the final snapshot keeps the data', () => {
    const volume = onlyBlock(synth().json.resource, 'aws_ebs_volume');
    expect(volume.lifecycle.prevent_destroy).toBeUndefined();
    expect(volume.final_snapshot).toBe(true);
  });

  test('GIVEN no snapshot THEN blank volumes; GIVEN one THEN every volume starts from it', () => {
    expect(onlyBlock(synth().json.resource, 'aws_ebs_volume')).not.toHaveProperty('snapshot_id');
    expect(onlyBlock(synth({ snapshotId: 'snap-0123456789abcdef0' }).json.resource, 'aws_ebs_volume').snapshot_id)
      .toBe('snap-0123456789abcdef0');
  });

  test('each attachment takes the volume and the box of its index, whichever market holds the box, and stops the box before it lets go', () => {
    // WHEN
    const { text } = synth();
    // THEN
    expect(text).toHaveResourceWithProperties(VolumeAttachment, {
      count: 2,
      device_name: '/dev/sdf',
      volume_id: expect.stringMatching(/^\$\{aws_ebs_volume\.[\w-]+\[count\.index\]\.id\}$/),
      instance_id: '${local.instance-ids[count.index]}',
      stop_instance_before_detaching: true,
    });
    expect(onlyBlock(synth().json.resource, 'aws_volume_attachment')).not.toHaveProperty('skip_destroy');
  });

  test('nothing about a box reaches a volume: only its attachment refers to the instances', () => {
    const volume = JSON.stringify(onlyBlock(synth().json.resource, 'aws_ebs_volume'));
    expect(volume).not.toMatch(/instance/);
  });

  test('the AZ ID the volumes were created in is kept (ignore_changes), and replaced only with their source snapshot', () => {
    // WHEN
    const { json } = synth({ snapshotId: 'snap-0123456789abcdef0' });
    const zone = onlyBlock(json.resource, 'terraform_data');
    const zoneId = Object.keys(json.locals)[0];
    // THEN
    expect(json.locals[zoneId]).toBe('use2-az3');
    expect(zone).toEqual({
      input: { availabilityZoneId: `\${local.${zoneId}}` },
      triggers_replace: { snapshotId: 'snap-0123456789abcdef0' },
      lifecycle: { ignore_changes: ['input'] },
    });
  });

  test('a plan that would move the boxes to another AZ ID fails on each volume, in one line that says how to move the data', () => {
    // WHEN
    const { json } = synth();
    const [guard] = onlyBlock(json.resource, 'aws_ebs_volume').lifecycle.precondition;
    const zone = `terraform_data.${Object.keys(json.resource.terraform_data)[0]}.output.availabilityZoneId`;
    const now = `local.${Object.keys(json.locals)[0]}`;
    // THEN
    expect(guard.condition).toBe(`\${${zone} == ${now}}`);
    expect(guard.error_message).toBe(`dataVolume: the boxes would move from AZ ID \${${zone}} to \${${now}}, and an EBS volume ` +
      'cannot leave its Availability Zone. To move the data, snapshot each volume (aws ec2 create-snapshot --region us-east-2 ' +
      '--volume-id <id>; the ids: terraform output data_volume_ids), then plan again with dataVolume.snapshotId set to the ' +
      `snapshot: the new volumes in \${${now}} start from it. To keep the data, keep AZ ID \${${zone}}.`);
    expect(guard.error_message).not.toContain('\n');
  });

  test('an existing subnet: the guard compares with the AZ ID its data source reads at plan time', () => {
    const { json } = synth({ availabilityZoneId: '${data.aws_subnet.existing.availability_zone_id}' });
    expect(Object.values(json.locals)).toEqual(['${data.aws_subnet.existing.availability_zone_id}']);
  });
});

import { Testing } from 'cdktf';
import { DataAwsAmi } from '@cdktf/provider-aws/lib/data-aws-ami';
import { DataAwsSsmParameter } from '@cdktf/provider-aws/lib/data-aws-ssm-parameter';
import { IMAGE_PRESETS, ImageChoice } from '../../src/catalog';
import { MachineImage } from '../../src/constructs/machine-image';

function build(image: ImageChoice, imageSetting: string) {
  let construct: MachineImage | undefined;
  const synthesized = Testing.synthScope((scope) => {
    construct = new MachineImage(scope, 'image', { image, imageSetting, rootVolumeSizeGiB: 50, rootVolumeSizeExplicit: false });
  });
  return { synthesized, image: construct! };
}

describe('MachineImage', () => {
  test('a preset with a parameter reads it, and guards x86_64 and the preset\'s name', () => {
    // WHEN
    const { synthesized, image } = build({ kind: 'preset', name: 'jax-0.10', preset: IMAGE_PRESETS['jax-0.10'] }, 'jax-0.10');
    // THEN
    expect(synthesized).toHaveDataSourceWithProperties(DataAwsSsmParameter, { name: '/aws/service/neuron/dlami/jax-0.10/ubuntu-24.04/latest/image_id' });
    expect(image.imageGuards.map((g) => g.condition)).toEqual([
      expect.stringMatching(/\.architecture == "x86_64"\}$/),
      expect.stringMatching(/^\$\{startswith\(.*\.name, "Deep Learning AMI Neuron JAX 0\.10 \(Ubuntu 24\.04\)"\)\}$/),
    ]);
    expect(image.imageGuards[1].errorMessage).toContain(
      'from /aws/service/neuron/dlami/jax-0.10/ubuntu-24.04/latest/image_id, but preset jax-0.10 expects an image named ' +
      '"Deep Learning AMI Neuron JAX 0.10 (Ubuntu 24.04) ..."');
  });

  test('a preset without a parameter takes the newest available Amazon AMI of its name', () => {
    const { synthesized } = build({ kind: 'preset', name: 'torchneuron-2.14', preset: IMAGE_PRESETS['torchneuron-2.14'] }, 'pytorch');
    expect(synthesized).not.toHaveDataSource(DataAwsSsmParameter);
    expect(synthesized).toHaveDataSourceWithProperties(DataAwsAmi, {
      most_recent: true,
      owners: ['amazon'],
      filter: [
        { name: 'name', values: ['Deep Learning AMI Neuron torch-neuronx 2.14.0 (Ubuntu 24.04) *'] },
        { name: 'state', values: ['available'] },
      ],
    });
  });

  test('an ssm: image reads that parameter and is checked for x86_64 only', () => {
    const { synthesized, image } = build({ kind: 'ssm', ssmParameter: '/my/image' }, 'ssm:/my/image');
    expect(synthesized).toHaveDataSourceWithProperties(DataAwsSsmParameter, { name: '/my/image' });
    expect(image.imageGuards).toHaveLength(1);
    expect(image.imageGuards[0].errorMessage).toMatch(/^image "ssm:\/my\/image" resolved to .* from \/my\/image, but the supported instance types need an x86_64 image\./);
  });
});

import { DescribeImagesCommand, EC2Client, Image } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { IMAGE_PRESETS } from '../../src/catalog';
import { ImageReport } from '../../src/cli/report';
import { awsError, expectOneLine, runCli, runJson } from './cli-test-helpers';

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);

const DAY_MS = 86_400_000;
const daysAgo = (days: number) => new Date(Date.now() - days * DAY_MS).toISOString();
const daysAhead = (days: number) => new Date(Date.now() + days * DAY_MS).toISOString();

/** An image as DescribeImages returns it. */
function image(overrides: Partial<Image> = {}): Image {
  return {
    ImageId: 'ami-0123456789abcdef0',
    Name: `${IMAGE_PRESETS['pytorch-2.9'].amiNamePrefix} 20260707`,
    Architecture: 'x86_64',
    CreationDate: daysAgo(30),
    RootDeviceName: '/dev/sda1',
    BlockDeviceMappings: [
      { DeviceName: '/dev/sda1', Ebs: { VolumeSize: 75, SnapshotId: 'snap-1' } },
      { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' },
    ],
    ...overrides,
  };
}

beforeEach(() => {
  ec2.reset();
  ssm.reset();
  ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-0123456789abcdef0' } });
  ec2.on(DescribeImagesCommand).resolves({ Images: [image()] });
});

describe('image', () => {
  test('GIVEN the defaults WHEN image runs THEN it resolves the trn1 PyTorch preset through SSM and EC2 and prints it', async () => {
    const run = await runCli(['image']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, { Name: '/aws/service/neuron/dlami/pytorch-2.9/ubuntu-24.04/latest/image_id' });
    expect(ec2).toHaveReceivedCommandWith(DescribeImagesCommand, { ImageIds: ['ami-0123456789abcdef0'] });
    expect(run.stdout).toContain('Image pytorch (preset pytorch-2.9) for trn1.2xlarge in us-east-2:\n');
    expect(run.stdout).toContain('  AMI id         ami-0123456789abcdef0\n');
    expect(run.stdout).toContain('  Name           Deep Learning AMI Neuron PyTorch 2.9 (Ubuntu 24.04) 20260707\n');
    expect(run.stdout).toContain('  Root snapshot  75 GiB\n');
    expect(run.stdout).toContain('  Neuron SDK     2.31.0 (as catalogued)\n');
    expect(run.stdout).toContain('  Environments   /opt/aws_neuronx_venv_pytorch_2_9 (PyTorch 2.9, torch-neuronx, NxD Core)\n');
    expect(run.stdout).toContain('  Activate       source /opt/aws_neuronx_venv_pytorch_2_9/bin/activate\n');
    expect(run.stdout).not.toContain('WARNING');
  });

  test('GIVEN trn2 WHEN image runs THEN it finds the newest Amazon TorchNeuron AMI by name, without SSM', async () => {
    const prefix = IMAGE_PRESETS['torchneuron-2.14'].amiNamePrefix;
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        image({ ImageId: 'ami-00000000000000001', Name: `${prefix} 20261019`, CreationDate: daysAgo(40) }),
        image({ ImageId: 'ami-00000000000000002', Name: `${prefix} 20261120`, CreationDate: daysAgo(10) }),
      ],
    });

    const { code, json } = await runJson<ImageReport>(['image', '--instance-type', 'trn2.48xlarge']);

    expect(code).toBe(0);
    expect(ssm).not.toHaveReceivedAnyCommand();
    expect(ec2).toHaveReceivedCommandWith(DescribeImagesCommand, {
      Owners: ['amazon'],
      Filters: [{ Name: 'name', Values: [`${prefix} *`] }, { Name: 'state', Values: ['available'] }],
    });
    expect(json).toMatchObject({
      command: 'image', image: 'pytorch', preset: 'torchneuron-2.14', ssmParameter: null, nameFilter: `${prefix} *`,
      neuronSdk: '2.33.0', activateCommand: 'source /opt/aws_neuronx_venv_torch_neuronx_2_14_0/bin/activate',
      passesPlanGuards: true, warnings: [],
    });
    expect(json.ami.id).toBe('ami-00000000000000002');
  });

  test('GIVEN an image older than a year and deprecated WHEN image runs THEN it warns about both and exits 0', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [image({ CreationDate: daysAgo(400), DeprecationTime: daysAgo(5) })] });

    const run = await runCli(['image']);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/WARNING: the image is 400 days old \(created \S+Z\): it lacks a year of Neuron and security updates\n/);
    expect(run.stdout).toMatch(/WARNING: AWS deprecated the image on \S+Z: it may vanish from listings; choose a newer one\n/);
  });

  test('GIVEN a deprecation date next month WHEN image runs THEN it says when', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [image({ DeprecationTime: daysAhead(30) })] });

    const { json } = await runJson<ImageReport>(['image']);

    expect(json.warnings).toEqual([expect.stringMatching(/^AWS deprecates the image on \S+Z$/)]);
    expect(json.passesPlanGuards).toBe(true);
  });

  test('fails the guards when the parameter names another kind of image: exit 1 and the reason', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [image({ Name: 'Deep Learning AMI Neuron (Ubuntu 24.04) 20261019' })] });

    const { code, json } = await runJson<ImageReport>(['image']);

    expect(code).toBe(1);
    expect(json.passesPlanGuards).toBe(false);
    expect(json.warnings).toEqual([
      'the image is named "Deep Learning AMI Neuron (Ubuntu 24.04) 20261019", not "Deep Learning AMI Neuron PyTorch 2.9 ' +
        '(Ubuntu 24.04) ..." as preset pytorch-2.9 expects: terraform plan will fail',
    ]);
  });

  test('fails the guards when an AMI id names an arm64 image, and knows no environment', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [image({ ImageId: 'ami-0fedcba9876543210', Name: 'mine', Architecture: 'arm64' })] });

    const run = await runCli(['image', '--image', 'ami-0fedcba9876543210']);

    expect(run.code).toBe(1);
    expect(ssm).not.toHaveReceivedAnyCommand();
    expect(ec2).toHaveReceivedCommandWith(DescribeImagesCommand, { ImageIds: ['ami-0fedcba9876543210'] });
    expect(run.stdout).toContain('  Environments   none known; list them on the box with: ls -d /opt/aws_neuronx_venv_*\n');
    expect(run.stdout).toContain('WARNING: the image is arm64, not x86_64: terraform plan will fail\n');
  });

  test('GIVEN ssm:<path> WHEN image runs THEN it reads that parameter', async () => {
    const { code, json } = await runJson<ImageReport>(['image', '--image', 'ssm:/my/team/image']);

    expect(code).toBe(0);
    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, { Name: '/my/team/image' });
    expect(json).toMatchObject({ preset: null, ssmParameter: '/my/team/image', neuronSdk: null, environments: [], activateCommand: null });
  });

  test('fails when the preset does not support the type: exit 2, one line naming the presets that do, AWS never asked', async () => {
    const run = await runCli(['image', '--image', 'torchneuron-2.14']);

    expect(run.code).toBe(2);
    expectOneLine(run.stderr);
    expect(run.stderr).toBe(
      'trainium-spot: image: --image "torchneuron-2.14" does not support trn1; presets that do: pytorch, pytorch-2.9, ' +
        "jax-0.10, multi-framework, base (see 'trainium-spot help image')\n",
    );
    expect(ssm).not.toHaveReceivedAnyCommand();
    expect(ec2).not.toHaveReceivedAnyCommand();
  });

  test('fails when the parameter does not exist: exit 2 and one line naming it', async () => {
    ssm.on(GetParameterCommand).rejects(awsError('ParameterNotFound'));

    const run = await runCli(['image', '--image', 'ssm:/nope']);

    expect(run.code).toBe(2);
    expect(run.stderr).toBe('trainium-spot: SSM parameter /nope does not exist in us-east-2: check the path, or that AWS publishes it in this region\n');
  });

  test('fails when SSM denies access: exit 2 and one line naming the IAM action', async () => {
    ssm.on(GetParameterCommand).rejects(awsError('AccessDeniedException'));

    const run = await runCli(['image']);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('your credentials may not call ssm:GetParameter in us-east-2');
  });

  test('fails when EC2 finds no image: exit 2 and one line', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });

    const run = await runCli(['image', '--instance-type', 'trn2.48xlarge']);

    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'trainium-spot: no Amazon AMI named "Deep Learning AMI Neuron torch-neuronx 2.14.0 (Ubuntu 24.04) *" in us-east-2: ' +
        'EC2 DescribeImages found none; choose another with --image\n',
    );
  });
});

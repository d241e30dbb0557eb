import { Testing } from 'cdktf';
import { KeyPair } from '@cdktf/provider-aws/lib/key-pair';
import { SsmParameter } from '@cdktf/provider-aws/lib/ssm-parameter';
import { PrivateKey } from '@cdktf/provider-tls/lib/private-key';
import { SshKey } from '../../src/constructs/ssh-key';

describe('SshKey', () => {
  test('generates an ED25519 key and keeps the private half in a SecureString at /ec2/keypair/<id>', () => {
    // WHEN
    const synthesized = Testing.synthScope((scope) => {
      new SshKey(scope, 'key', { name: 'box' });
    });
    // THEN
    expect(synthesized).toHaveResourceWithProperties(PrivateKey, { algorithm: 'ED25519' });
    expect(synthesized).toHaveResourceWithProperties(KeyPair, { key_name_prefix: 'box-' });
    expect(synthesized).toHaveResourceWithProperties(SsmParameter, {
      type: 'SecureString',
      name: expect.stringMatching(/^\/ec2\/keypair\/\$\{aws_key_pair\.[^.]+\.key_pair_id\}$/),
      value: expect.stringMatching(/^\$\{tls_private_key\.[^.]+\.private_key_openssh\}$/),
    });
  });

  test('imports a given public key and keeps no private key anywhere', () => {
    // GIVEN
    const publicKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7 user@laptop';
    // WHEN
    let key: SshKey | undefined;
    const synthesized = Testing.synthScope((scope) => {
      key = new SshKey(scope, 'key', { name: 'box', publicKey });
    });
    // THEN
    expect(synthesized).toHaveResourceWithProperties(KeyPair, { public_key: publicKey });
    expect(synthesized).not.toHaveResource(PrivateKey);
    expect(synthesized).not.toHaveResource(SsmParameter);
    expect(key!.privateKeyParameterName).toBeUndefined();
  });
});

import { IAM_ROLE_NAME_PREFIX_MAX } from '../src/catalog';
import { blocksOf, synthesizeClusterJson, synthesizeJson } from './support/synth';

// The longest name the config accepts (`name`: a letter, then up to 29 letters, digits and dashes).
const LONGEST_NAME = 'a'.repeat(30);

describe('names built from the longest config name', () => {
  test.each([
    ['the box stack', () => synthesizeJson({ name: LONGEST_NAME })],
    ['the cluster stack', () => synthesizeClusterJson({ name: LONGEST_NAME, cluster: { nodes: 2, instanceType: 'trn1.32xlarge' } })],
  ])('%s: every IAM role name_prefix fits the AWS provider\'s 38 characters and still starts with the name', (_, synth) => {
    const prefixes = blocksOf(synth(), 'aws_iam_role').map((role) => role.name_prefix as string);
    expect(prefixes.length).toBeGreaterThan(0);
    for (const prefix of prefixes) {
      expect(prefix.length).toBeLessThanOrEqual(IAM_ROLE_NAME_PREFIX_MAX);
      expect(prefix.startsWith(LONGEST_NAME)).toBe(true);
    }
  });
});

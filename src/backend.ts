import { Construct } from 'constructs';
import { CloudBackend, LocalBackend, NamedCloudWorkspace, S3Backend } from 'cdktf';
import type { BackendSettings } from './config';

/**
 * Local state lives in the project directory, beside cdktf.json, not in cdktf.out (which is build
 * output, and often deleted). Terraform runs in cdktf.out/stacks/<stack>, three levels down; a
 * relative path keeps the synthesized JSON the same on every machine.
 */
const localStatePath = (stackName: string) => `../../../terraform.${stackName}.tfstate`;

/** Where Terraform keeps state: a local file, an S3 bucket, or a Terraform Cloud workspace. */
export function configureBackend(scope: Construct, stackName: string, settings: BackendSettings, region: string): void {
  switch (settings.type) {
    case 'local':
      new LocalBackend(scope, { path: settings.path ?? localStatePath(stackName) });
      return;
    case 's3': {
      const backend = new S3Backend(scope, {
        bucket: settings.bucket,
        key: settings.key,
        encrypt: true,
        // The bucket's region; the stack's region unless told otherwise.
        region: settings.region ?? region,
      });
      // S3-native locking (Terraform 1.10+) needs no DynamoDB table; cdktf 0.21 has no field for it.
      if (settings.useLockfile) backend.addOverride('use_lockfile', true);
      return;
    }
    case 'cloud':
      new CloudBackend(scope, {
        organization: settings.organization,
        hostname: settings.hostname,
        workspaces: new NamedCloudWorkspace(settings.workspace),
      });
      return;
  }
}

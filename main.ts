/**
 * The cdktf app: read the configuration once, validate it, and synthesize the stack.
 * `npm run synth` runs it directly (it reads cdktf.json's context itself); `cdktf synth` runs it
 * too, handing the context over in CDKTF_CONTEXT_JSON. Success is one line on stdout: the file written, the
 * market and the number of boxes. A bad config ends here with one line per
 * problem on stderr and exit code 1, before anything is written (the App itself creates its output
 * directory, so it is made only after the config is valid).
 */
import * as path from 'node:path';
import { App } from 'cdktf';
import { ConfigError, loadConfigWithOrigins, readContext, regionDisagreement } from './src/config';
import { CLUSTER_STACK_NAME, TrainiumSpotClusterStack } from './src/cluster-stack';
import { STACK_NAME, TrainiumSpotStack } from './src/stack';
import { writeTerraformTests } from './src/terraform-tests';

const PROGRAM = 'trainium-spot';

function main(): void {
  try {
    const loaded = loadConfigWithOrigins({ context: readContext(process.env, process.cwd()), env: process.env });
    const warning = regionDisagreement(loaded, process.env);
    if (warning) process.stderr.write(`${PROGRAM}: ${warning}\n`);
    // skipValidation: cdktf's only validation here shells out to `terraform version` (for
    // terraform_data), so synth would need Terraform installed; the tests run the validations instead.
    // stackTraces: a stack trace per construct costs a sixth of synth time and never reaches the JSON.
    const app = new App({ skipValidation: true, stackTraces: false });
    new TrainiumSpotStack(app, STACK_NAME, loaded.config);
    // The cluster is a stack of its own: adding or removing `cluster` changes nothing in the box's.
    if (loaded.config.cluster) new TrainiumSpotClusterStack(app, CLUSTER_STACK_NAME, loaded.config);
    app.synth();
    const stackDir = path.join(app.outdir, 'stacks', STACK_NAME);
    writeTerraformTests(stackDir, STACK_NAME, loaded.config);
    const { market, instanceCount, instanceType } = loaded.config;
    const written = path.resolve(stackDir, 'cdk.tf.json');
    const shown = path.relative(process.cwd(), written).startsWith('..') ? written : path.relative(process.cwd(), written);
    process.stdout.write(`${PROGRAM}: wrote ${shown}: ` +
      `market ${market}, ${instanceCount} ${instanceCount === 1 ? 'box' : 'boxes'} (${instanceType})\n`);
    const { cluster } = loaded.config;
    if (cluster) {
      process.stdout.write(`${PROGRAM}: wrote ${shown.replace(`${STACK_NAME}/cdk.tf.json`, `${CLUSTER_STACK_NAME}/cdk.tf.json`)}: ` +
        `cluster of up to ${cluster.nodes} ${cluster.instanceType} (${cluster.market}), head ${cluster.headInstanceType}\n`);
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(err.problems.map((problem) => `${PROGRAM}: ${problem}\n`).join(''));
    process.exit(1);
  }
}

main();

/**
 * The cdktf app: read the configuration once, validate it, and synthesize the stack.
 * A bad value ends here with one line on stderr and exit code 1, before anything is written
 * (the App itself creates its output directory, so it is made only after the config is valid).
 */
import * as path from 'node:path';
import { App } from 'cdktf';
import { CONTEXT_KEY, ConfigError, loadConfig } from './src/config';
import { STACK_NAME, TrainiumSpotStack } from './src/stack';
import { writeTerraformTests } from './src/terraform-tests';

/** cdktf-cli hands cdktf.json's `context` to the app in this variable. */
const CONTEXT_ENV = 'CDKTF_CONTEXT_JSON';

function main(): void {
  try {
    const context = JSON.parse(process.env[CONTEXT_ENV] ?? '{}') as Record<string, unknown>;
    const config = loadConfig({ context: { [CONTEXT_KEY]: context[CONTEXT_KEY] }, env: process.env });
    // skipValidation: cdktf's only validation here shells out to `terraform version` (for
    // terraform_data), so synth would need Terraform installed; the tests run the validations instead.
    // stackTraces: a stack trace per construct costs a sixth of synth time and never reaches the JSON.
    const app = new App({ skipValidation: true, stackTraces: false });
    new TrainiumSpotStack(app, STACK_NAME, config);
    app.synth();
    writeTerraformTests(path.join(app.outdir, 'stacks', STACK_NAME), STACK_NAME, config.market);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`trainium-spot: ${err.message}\n`);
    process.exit(1);
  }
}

main();

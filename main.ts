/**
 * The cdktf app: read the configuration once, validate it, and synthesize the stack.
 * A bad value ends here with one line on stderr and exit code 1, before anything is written.
 */
import { App } from 'cdktf';
import { CONTEXT_KEY, ConfigError, loadConfig } from './src/config';
import { STACK_NAME, TrainiumSpotStack } from './src/stack';

function main(): void {
  const app = new App();
  let config;
  try {
    config = loadConfig({ context: { [CONTEXT_KEY]: app.node.tryGetContext(CONTEXT_KEY) }, env: process.env });
    new TrainiumSpotStack(app, STACK_NAME, config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`trainium-spot: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  app.synth();
}

main();

/**
 * The stack's configuration as the CLI reads it: the same loader, sources and precedence as
 * `npm run synth` (cdktf.json context < $TRAINIUM_SPOT_CONFIG < env vars), so the CLI checks and
 * manages what the stack deploys. Flags override it for one run.
 */
import { Config, LoadedConfig, loadConfigWithOrigins, readContext, regionDisagreement } from '../config';
import type { CommandContext } from './command';

type Env = Readonly<Record<string, string | undefined>>;

export function loadCliConfig(env: Env, cwd: string = process.cwd()): LoadedConfig {
  return loadConfigWithOrigins({ context: readContext(env, cwd), env });
}

/**
 * The config for one command run. When no `--region` overrides the region and AWS_REGION names
 * another one, a warning line says which region is used and why.
 */
export function commandConfig(ctx: CommandContext, regionFlag: string | undefined): Config {
  const loaded = loadCliConfig(ctx.io.env, ctx.io.cwd);
  const warning = regionFlag === undefined ? regionDisagreement(loaded, ctx.io.env) : undefined;
  if (warning) ctx.io.stderr.write(`trainium-spot: ${warning}\n`);
  return loaded.config;
}

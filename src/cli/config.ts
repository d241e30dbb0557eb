/**
 * The stack's configuration as the CLI reads it: the same loader, sources and precedence as
 * `npm run synth` (cdktf.json context < $TRAINIUM_SPOT_CONFIG < env vars), so the CLI checks and
 * manages what the stack deploys. Flags override it for one run.
 */
import { Config, LoadedConfig, loadConfigWithOrigins, readContext, regionDisagreement } from '../config';
import type { Flags } from './args';
import type { CommandContext } from './command';

type Env = Readonly<Record<string, string | undefined>>;

export function loadCliConfig(env: Env, cwd: string = process.cwd()): LoadedConfig {
  return loadConfigWithOrigins({ context: readContext(env, cwd), env });
}

/** What a command works on: the configuration, and the region (`--region` for this run, else the configured one). */
export interface CommandTarget {
  readonly config: Config;
  readonly region: string;
}

/**
 * The config for one command run. When no `--region` overrides the region and AWS_REGION names
 * another one, a warning line says which region is used and why.
 */
export function commandTarget(ctx: CommandContext, flags: Flags): CommandTarget {
  const regionFlag = flags.region();
  const loaded = loadCliConfig(ctx.io.env, ctx.io.cwd);
  const warning = regionFlag === undefined ? regionDisagreement(loaded, ctx.io.env) : undefined;
  if (warning) ctx.io.stderr.write(`trainium-spot: ${warning}\n`);
  return { config: loaded.config, region: regionFlag ?? loaded.config.region };
}

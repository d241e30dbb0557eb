/**
 * What a box runs for trainium-spot, in two parts:
 * - user data (`renderUserData`): only what must happen before Systems Manager can reach the box, read
 *   by cloud-init once, at the first boot. Today that is one thing: a box launched by a spot request
 *   requires IMDSv2 on itself (RequestSpotInstances cannot set it at launch).
 * - the agent (`renderAgentDocument`, agent.ts): everything else, delivered and kept up to date by a
 *   State Manager association, on new and running boxes alike.
 * The scripts are the real files beside this module, read at synth time.
 */
import { readUserdataFile } from './files';
import { assertSingleLine } from './idle-conf';

export { renderAgentDocument, type AgentDocument, type AgentFile, type AgentProps, type DataVolumeMount, type LoginMessage } from './agent';
export { renderIdleConf } from './idle-conf';

export interface UserDataProps {
  /** The config's `name`; labels the user data so a reader of it knows which deployment wrote it. */
  readonly name: string;
  /** The name of the SSM association that installs the agent, for the reader of the user data. */
  readonly agentAssociationName: string;
  /**
   * Have the box require IMDSv2 on itself at first boot: needed where EC2 takes no metadata options
   * at launch (spot requests).
   * @default false
   */
  readonly requireImdsv2OnBoot?: boolean;
}

/** The user data as EC2 receives it. */
export type RenderedUserData = { readonly userData: string };

/** What user data may weigh: a quarter of EC2's limit, so it stays a bootstrap and never grows back into one. */
export const BOOTSTRAP_LIMIT_BYTES = 4096;

const IMDSV2_SCRIPT_PATH = '/usr/local/sbin/trainium-spot-require-imdsv2';

/** The cloud-config every box boots with. */
export function renderUserData(props: UserDataProps): RenderedUserData {
  assertSingleLine('name', props.name);
  const about = [
    `# ${props.name}: trainium-spot's boot script. The box's software (the idle auto-shutdown, the interruption`,
    `# watcher, the settings) comes from the State Manager association ${props.agentAssociationName} once the`,
    '# box registers with Systems Manager; see /etc/trainium-spot/agent.json.',
  ];
  if (!props.requireImdsv2OnBoot) return { userData: ['#cloud-config', ...about, '{}', ''].join('\n') };
  const script = readUserdataFile('require-imdsv2.sh').replace(/\n$/, '').split('\n');
  const text = [
    '#cloud-config',
    ...about,
    '# At first boot the box requires IMDSv2 on itself (a spot request cannot set it at launch).',
    'write_files:',
    `  - path: ${IMDSV2_SCRIPT_PATH}`,
    '    owner: root:root',
    "    permissions: '0755'",
    '    content: |',
    ...script.map((line) => (line === '' ? '' : `      ${line}`)),
    'runcmd:',
    `  - [${IMDSV2_SCRIPT_PATH}]`,
    '',
  ].join('\n');
  const size = Buffer.byteLength(text, 'utf8');
  // Ours to keep small, well inside EC2's 16 KB; only our own files are in it, so this is a bug of ours.
  if (size > BOOTSTRAP_LIMIT_BYTES) {
    throw new Error(`the user data is ${size} bytes; a bootstrap may be ${BOOTSTRAP_LIMIT_BYTES}`);
  }
  return { userData: text };
}
